"""Leads without HTTP: the rules, duplicates (case and accents aside), conversion once,
assignment on every creation path, the list's filters and keyset pages."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.customers.models import Contact, Organization, organization_team
from portal.domains.identity.models import StaffUser
from portal.domains.sales import assignment, opportunities
from portal.domains.sales import leads as service
from portal.domains.sales.models import Lead, LeadOrigin, LeadStatus, Opportunity, Outcome, Source, Stage
from portal.domains.timeline.models import Subject, TimelineEntry
from portal.mail.models import OutboxMessage


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _events(lead_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(TimelineEntry.kind)
            .where(TimelineEntry.subject_type == Subject.LEAD, TimelineEntry.subject_id == lead_id)
            .order_by(TimelineEntry.id)
        )
    )


@pytest.fixture
def assigned(monkeypatch):
    """The records ``assign_owner`` was called with (the real function still runs)."""
    calls = []
    real = assignment.assign_owner

    def spy(record, *, actor=None, reason_context=None):
        calls.append((type(record).__name__, record.id, reason_context))
        return real(record, actor=actor, reason_context=reason_context)

    monkeypatch.setattr(assignment, "assign_owner", spy)
    monkeypatch.setattr(opportunities, "assign_owner", spy)  # imported by name there
    return calls


def test_a_lead_needs_a_name_and_a_way_to_answer(ctx):
    errors = service.lead_errors(service.LeadInput(name=" "))
    assert set(errors) == {"name", "email"}
    assert "email address or a phone" in errors["email"]
    assert service.lead_errors(service.LeadInput(name="Ann", phone="555 0100")) == {}
    assert "valid email" in service.lead_errors(service.LeadInput(name="Ann", email="ann@"))["email"]
    assert "at most 200" in service.lead_errors(service.LeadInput(name="x" * 201, phone="1"))["name"]
    assert "source" in service.lead_errors(service.LeadInput(name="Ann", phone="1", source_id=999_999))["source_id"]
    with pytest.raises(InvalidInput):
        service.create_lead(service.LeadInput(name=""))
    assert _count(Lead) == 0


def test_a_technician_cannot_own_a_lead(ctx, make):
    tech = make.staff(role="technician")
    assert "rep_id" in service.lead_errors(service.LeadInput(name="Ann", phone="1", rep_id=tech.id))


def test_staff_lead_is_stored_on_the_timeline_and_assigned(ctx, make, assigned):
    rep = db.session.get(StaffUser, make.staff().id)
    lead = service.create_lead(
        service.LeadInput(name="  Ann Lee ", company="Lee Farms", email="Ann@Lee.example"), actor=rep
    )
    db.session.commit()
    assert (lead.name, lead.email, lead.origin, lead.status) == ("Ann Lee", "ann@lee.example", "staff", "open")
    # No assignment rule exists here: the rules leave it unassigned and flag it.
    assert _events(lead.id) == ["created", "unassigned"]
    assert assigned == [("Lead", lead.id, "staff form")]
    # With a rep chosen, nobody else decides.
    assigned.clear()
    service.create_lead(service.LeadInput(name="Bo", phone="1", rep_id=rep.id), actor=rep)
    assert assigned == []


def test_quote_page_request_queues_the_receipt(ctx, assigned):
    lead = service.request_quote(
        service.QuoteRequest(name="Vera", email="Vera@Visitor.example", address="1 Elm St", need="Weekly mowing")
    )
    db.session.commit()
    assert (lead.origin, lead.notes, lead.address) == (LeadOrigin.QUOTE_PAGE, "Weekly mowing", "1 Elm St")
    mail = db.session.scalars(select(OutboxMessage)).one()
    assert mail.to_addr == "vera@visitor.example" and mail.kind == "quote_receipt"
    assert "Weekly mowing" in mail.body_text and "Hello Vera" in mail.body_text
    assert assigned == [("Lead", lead.id, "quote request")]
    assert db.session.get(Source, lead.source_id).key == "quote_page"


def test_quote_page_needs_an_email_and_what_they_need(ctx):
    with pytest.raises(InvalidInput) as caught:
        service.request_quote(service.QuoteRequest(name="Vera", email="", phone="555"))
    assert set(caught.value.errors) == {"email", "need"}
    assert _count(Lead) == 0 and _count(OutboxMessage) == 0


def test_portal_request_is_tied_to_the_contact_and_organization(ctx, make, assigned):
    org = make.organization_with("Harbor Dental")
    contact = db.session.get(Contact, make.contact(org, first_name="Hal", last_name="Harbor").id)
    lead = service.request_quote_from_portal(contact, "A quote for snow removal")
    db.session.commit()
    assert (lead.organization_id, lead.contact_id, lead.company, lead.origin) == (
        org.id,
        contact.id,
        "Harbor Dental",
        LeadOrigin.PORTAL,
    )
    entry = db.session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.subject_type == Subject.LEAD, TimelineEntry.subject_id == lead.id)
        .where(TimelineEntry.kind == "created")
    ).one()
    assert entry.contact_id == contact.id and entry.staff_id is None
    assert assigned == [("Lead", lead.id, "portal request")]
    with pytest.raises(InvalidInput):
        service.request_quote_from_portal(contact, "   ")


# --- duplicates -------------------------------------------------------------------------


def _lead(**kw) -> Lead:
    kw.setdefault("name", "Someone")
    lead = Lead(**kw)
    db.session.add(lead)
    db.session.commit()  # the factories write through their own sessions
    return lead


def test_company_matches_ignore_case_and_accents(ctx, make):
    cafe = make.organization_with("Café Rosé SRL")
    stefan = make.organization_with("Stefan Gardens")
    make.organization_with("Cafe Rosa SRL")  # one letter apart: not a match
    assert [o.id for o in service.possible_duplicates(_lead(company="CAFE ROSE  srl")).organizations] == [cafe.id]
    assert [o.id for o in service.possible_duplicates(_lead(company="ştefan gardens")).organizations] == [stefan.id]
    assert not service.possible_duplicates(_lead(company="Stefan Garden"))
    assert not service.possible_duplicates(_lead(company="100%_off"))


def test_email_matches_an_existing_contact(ctx, make):
    contact = make.contact(email="pat@known.example")
    found = service.possible_duplicates(_lead(email="pat@known.example"))
    assert [c.id for c in found.contacts] == [contact.id] and not found.organizations
    # A portal request's own contact and organization are not duplicates of itself.
    own = _lead(email="pat@known.example", contact_id=contact.id, organization_id=contact.organization_id)
    assert not service.possible_duplicates(own)


# --- conversion ---------------------------------------------------------------------------


def _team(organization_id: int) -> list[int]:
    return list(
        db.session.scalars(
            select(organization_team.c.staff_id).where(organization_team.c.organization_id == organization_id)
        )
    )


def _actor(make, role="sales") -> StaffUser:
    return db.session.get(StaffUser, make.staff(role=role).id)


def test_conversion_reuses_the_matching_contact_and_its_organization(ctx, make):
    org = make.organization_with("Known Co", billing_address="1 Main St")
    contact = make.contact(org, email="kim@known.example")
    lead = _lead(name="Kim", company="Something Else", email="kim@known.example")
    before = (_count(Organization), _count(Contact))
    done = service.convert_to_customer(lead, service.customer_defaults(lead), _actor(make))
    db.session.commit()
    assert (done.organization.id, done.contact.id, done.reused_organization, done.reused_contact) == (
        org.id,
        contact.id,
        True,
        True,
    )
    assert (_count(Organization), _count(Contact)) == before
    assert (lead.status, lead.organization_id, lead.contact_id) == ("converted", org.id, contact.id)
    assert _events(lead.id) == ["converted"]


def test_conversion_reuses_the_organization_and_adds_the_contact(ctx, make):
    org = make.organization_with("Café Rosé", billing_address="1 Main St")
    lead = _lead(name="Rosa Maria Bell", company="cafe rose", email="rosa@cafe.example", phone="555")
    actor = _actor(make)
    done = service.convert_to_customer(lead, service.customer_defaults(lead), actor, join_team=True)
    db.session.commit()
    assert done.organization.id == org.id and done.reused_organization and not done.reused_contact
    assert (done.contact.first_name, done.contact.last_name, done.contact.email) == (
        "Rosa",
        "Maria Bell",
        "rosa@cafe.example",
    )
    assert done.contact.organization_id == org.id and not done.contact.portal_enabled
    assert _team(org.id) == []  # a reused customer's team is left alone


def test_conversion_makes_a_new_customer_and_the_converter_joins_its_team(ctx, make):
    lead = _lead(name="Nia Newton", company="New Co", email="nia@new.example", address="2 Oak Ave")
    actor = _actor(make)
    done = service.convert_to_customer(lead, service.customer_defaults(lead), actor, join_team=True)
    db.session.commit()
    assert not done.reused_organization and not done.reused_contact
    assert (done.organization.name, done.organization.billing_address) == ("New Co", "2 Oak Ave")
    assert _team(done.organization.id) == [actor.id]


def test_conversion_with_bad_input_leaves_the_lead_open(ctx, make):
    lead = _lead(name="Nia", company="No Address Co", email="nia@noaddress.example")
    lead_id = lead.id
    db.session.commit()
    with pytest.raises(InvalidInput) as caught:
        service.convert_to_customer(lead, service.customer_defaults(lead), _actor(make))
    db.session.rollback()
    assert "billing_address" in caught.value.errors
    assert db.session.get(Lead, lead_id).status == LeadStatus.OPEN and _count(Organization) == 0


def test_a_converted_lead_does_not_convert_twice(ctx, make):
    lead = _lead(name="Tia Twice", company="Twice Co", email="t@twice.example", address="3 Pine Rd")
    actor = _actor(make)
    service.convert_to_customer(lead, service.customer_defaults(lead), actor)
    db.session.commit()
    counts = (_count(Organization), _count(Contact), _count(Opportunity))
    with pytest.raises(NotAllowed, match="already converted"):
        service.convert_to_customer(lead, service.customer_defaults(lead), actor)
    with pytest.raises(NotAllowed, match="already converted"):
        service.convert_to_opportunity(lead, actor)
    db.session.rollback()
    assert (_count(Organization), _count(Contact), _count(Opportunity)) == counts


def test_conversion_into_an_opportunity(ctx, make, assigned):
    lead = _lead(name="Olga", company="Opp Co", email="o@opp.example")
    actor = _actor(make)
    opportunity = service.convert_to_opportunity(lead, actor)
    db.session.commit()
    stage = db.session.get(Stage, opportunity.stage_id)
    first_open = db.session.scalars(
        select(Stage).where(Stage.outcome == Outcome.OPEN, Stage.is_active.is_(True)).order_by(Stage.position, Stage.id)
    ).first()
    assert stage.id == first_open.id and opportunity.lead_id == lead.id and lead.opportunity_id == opportunity.id
    assert opportunity.organization_id is None and lead.status == LeadStatus.CONVERTED
    assert assigned == [("Opportunity", opportunity.id, "lead conversion")]
    with pytest.raises(NotAllowed):
        service.convert_to_opportunity(lead, actor)
    db.session.rollback()
    assert _count(Opportunity) == 1


def test_discard_only_an_open_lead(ctx, make):
    lead = _lead(name="Spam", email="spam@spam.example")
    actor = _actor(make)
    service.discard_lead(lead, actor)
    assert lead.status == LeadStatus.DISCARDED
    with pytest.raises(NotAllowed):
        service.discard_lead(lead, actor)
    with pytest.raises(NotAllowed, match="discarded"):
        service.convert_to_opportunity(lead, actor)


# --- the list ------------------------------------------------------------------------


def test_list_filters_search_and_keyset_pages(ctx, make):
    me, other = _actor(make), _actor(make)
    source = db.session.scalars(select(Source).order_by(Source.id)).first()
    for i in range(7):
        _lead(name=f"Mine {i}", company="Şerban Gardens", rep_id=me.id, source_id=source.id if source else None)
    _lead(name="Theirs", rep_id=other.id)
    _lead(name="Nobody's", email="nobody@free.example")
    _lead(name="Closed one", rep_id=me.id, status=LeadStatus.CONVERTED)
    base = select(Lead)

    def names(filters, **kw):
        return [lead.name for lead in service.list_leads(base, filters, me, **kw).leads]

    assert names(service.LeadFilters(rep="me")) == [f"Mine {i}" for i in reversed(range(7))]
    assert names(service.LeadFilters(rep="none")) == ["Nobody's"]
    assert names(service.LeadFilters(rep=str(other.id))) == ["Theirs"]
    assert names(service.LeadFilters(status="all", rep="me"))[0] == "Closed one"
    assert len(names(service.LeadFilters(q="ŞERBAN"))) == 7
    assert names(service.LeadFilters(q="nobody@")) == ["Nobody's"]
    if source is not None:
        assert len(names(service.LeadFilters(source_id=source.id))) == 7
    first = service.list_leads(base, service.LeadFilters(rep="me"), me, per_page=4)
    second = service.list_leads(base, service.LeadFilters(rep="me"), me, after=first.next_cursor, per_page=4)
    assert [lead.name for lead in first.leads + second.leads] == [f"Mine {i}" for i in reversed(range(7))]
    assert second.next_cursor is None
    # A malformed cursor is the first page, never an error.
    assert names(service.LeadFilters(rep="me"), after="not-a-cursor") == names(service.LeadFilters(rep="me"))


def test_the_demo_has_leads_and_one_possible_duplicate(ctx):
    from portal.demo import seed_demo

    seed_demo()
    seed_demo()  # a second run adds nothing
    leads = db.session.scalars(select(Lead).order_by(Lead.id)).all()
    assert [lead.origin for lead in leads] == ["staff", "quote_page", "staff"]
    duplicate = service.possible_duplicates(leads[2])
    assert [c.email for c in duplicate.contacts] == ["lucia.rossi@harbor.example"]
    assert [o.name for o in duplicate.organizations] == ["Harbor Dental Group"]
    assert not service.possible_duplicates(leads[0])
