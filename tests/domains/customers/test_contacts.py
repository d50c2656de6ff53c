"""Contact service: validation, unique active emails, one primary per organization, and
the revocation rule (what ends a contact's portal access and what does not)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from portal.core.db import utcnow
from portal.core.errors import InvalidInput, NotAllowed
from portal.core.extensions import db
from portal.domains.customers import contacts as service
from portal.domains.customers.contacts import ContactInput
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity.models import PortalLink, PortalSignIn

TAKEN = "Another active contact already uses this email address."


def _data(**overrides) -> ContactInput:
    values = dict(
        first_name="Jane",
        last_name="Park",
        email="jane.park@example.test",
        phone="",
        title="Facilities manager",
        timezone="America/New_York",
    )
    values.update(overrides)
    return ContactInput(**values)


def _input_of(contact: Contact, **overrides) -> ContactInput:
    """What the edit form would post for this contact, with some fields changed."""
    values = dict(
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email,
        phone=contact.phone or "",
        title=contact.title,
        timezone=contact.timezone,
        is_primary=contact.is_primary,
        portal_enabled=contact.portal_enabled,
        portal_level=contact.portal_level,
    )
    values.update(overrides)
    return ContactInput(**values)


def _org(organization_id: int) -> Organization:
    return db.session.get(Organization, organization_id)


def _primaries(organization_id: int) -> list[int]:
    return list(
        db.session.scalars(
            select(Contact.id).where(Contact.organization_id == organization_id, Contact.is_primary.is_(True))
        )
    )


# --- creating and validating -----------------------------------------------------------


def test_create_contact_trims_and_stores_the_email_lower_case(make, ctx):
    org = make.organization()
    contact = service.create_contact(_org(org.id), _data(first_name="  Jane ", email="  Jane.Park@Example.TEST "))
    db.session.commit()
    stored = db.session.get(Contact, contact.id)
    assert (stored.first_name, stored.email, stored.timezone) == ("Jane", "jane.park@example.test", "America/New_York")
    assert stored.is_active and stored.portal_enabled and stored.portal_level == "requester"
    assert stored.phone is None and not stored.is_primary


def test_every_invalid_field_is_reported_at_once(make, ctx):
    org = make.organization()
    with pytest.raises(InvalidInput) as caught:
        service.create_contact(
            _org(org.id),
            _data(first_name=" ", last_name="", email="jane@", timezone="Mars/Olympus", portal_level="everything"),
        )
    assert caught.value.errors == {
        "first_name": "Enter a first name.",
        "last_name": "Enter a last name.",
        "email": "Enter a valid email address, like name@example.com.",
        "timezone": "Choose a time zone from the list, like America/New_York or Europe/Rome.",
        "portal_level": "Choose a portal level.",
    }
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


@pytest.mark.parametrize(
    "email, message",
    [
        ("", "Enter an email address."),
        ("jane park@example.test", "Enter a valid email address, like name@example.com."),
        ("jane@localhost", "Enter a valid email address, like name@example.com."),
        ("x" * 250 + "@example.test", "Enter a valid email address, like name@example.com."),
    ],
)
def test_an_unusable_email_is_refused_with_a_clear_message(make, ctx, email, message):
    with pytest.raises(InvalidInput) as caught:
        service.create_contact(_org(make.organization().id), _data(email=email))
    assert caught.value.errors == {"email": message}


def test_a_timezone_must_be_a_zoneinfo_name(make, ctx):
    org = _org(make.organization().id)
    for name in ("", "Europe/Nowhere", "../etc/passwd", "utc "):
        with pytest.raises(InvalidInput) as caught:
            service.create_contact(org, _data(timezone=name))
        if name.strip():
            assert set(caught.value.errors) == {"timezone"}
    assert service.create_contact(org, _data(timezone="Pacific/Auckland")).timezone == "Pacific/Auckland"


def test_no_contact_is_added_to_an_inactive_organization(make, ctx):
    org = _org(make.organization().id)
    org.is_active = False
    with pytest.raises(NotAllowed):
        service.create_contact(org, _data())


# --- unique email among active contacts -------------------------------------------------


def test_an_active_contacts_email_cannot_be_used_again_whatever_its_case(make, ctx):
    first = make.contact(email="cora@example.test")
    other_org = _org(make.organization().id)
    with pytest.raises(InvalidInput) as caught:
        service.create_contact(other_org, _data(email="CORA@Example.Test"))
    assert caught.value.errors == {"email": TAKEN}
    second = service.create_contact(other_org, _data(email="second@example.test"))
    with pytest.raises(InvalidInput) as caught:
        service.update_contact(second, _input_of(second, email="Cora@example.test"))
    assert caught.value.errors == {"email": TAKEN}
    db.session.rollback()
    assert db.session.get(Contact, first.id).is_active


def test_the_address_of_an_inactive_contact_can_be_reused(make, ctx):
    old, other_org = make.contact(email="cora@example.test"), make.organization()
    service.deactivate_contact(db.session.get(Contact, old.id))
    new = service.create_contact(_org(other_org.id), _data(email="cora@example.test"))
    db.session.commit()
    assert db.session.get(Contact, new.id).email == "cora@example.test"
    # ...and then the old one cannot come back with it
    with pytest.raises(InvalidInput) as caught:
        service.reactivate_contact(db.session.get(Contact, old.id))
    assert caught.value.errors == {"email": TAKEN}


def test_keeping_ones_own_email_is_not_a_conflict(make, ctx):
    contact = db.session.get(Contact, make.contact(email="cora@example.test").id)
    service.update_contact(contact, _input_of(contact, first_name="Corinne"))
    db.session.commit()
    assert db.session.get(Contact, contact.id).first_name == "Corinne"


def test_a_lost_race_on_the_unique_index_gives_the_same_clear_error(make, ctx, monkeypatch):
    make.contact(email="cora@example.test")
    org = _org(make.organization().id)
    # Both requests checked before either wrote: only the index notices.
    monkeypatch.setattr(service, "email_in_use", lambda email, except_id=None: False)
    with pytest.raises(InvalidInput) as caught:
        service.create_contact(org, _data(email="cora@example.test"))
    assert caught.value.errors == {"email": TAKEN}
    other = service.create_contact(org, _data(email="other@example.test"))
    with pytest.raises(InvalidInput) as caught:
        service.update_contact(other, _input_of(other, email="cora@example.test"))
    assert caught.value.errors == {"email": TAKEN}
    # The savepoint kept the transaction usable: the rest of the work still commits.
    db.session.commit()
    assert db.session.get(Contact, other.id).email == "other@example.test"


def test_the_database_refuses_two_active_contacts_with_one_address(make, app, ctx):
    contact = make.contact(email="cora@example.test")
    db.session.add(
        Contact(organization_id=contact.organization_id, first_name="A", last_name="B", email="cora@example.test")
    )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


# --- the primary contact ---------------------------------------------------------------


def test_setting_a_second_primary_moves_the_flag(make, ctx):
    org = make.organization()
    first, second = make.contact(org), make.contact(org)
    service.set_primary_contact(db.session.get(Contact, first.id))
    db.session.commit()
    assert _primaries(org.id) == [first.id]
    service.set_primary_contact(db.session.get(Contact, second.id))
    db.session.commit()
    assert _primaries(org.id) == [second.id]
    assert not db.session.get(Contact, first.id).is_primary


def test_primary_contacts_of_different_organizations_do_not_interfere(make, ctx):
    one, two = make.contact(), make.contact()
    service.set_primary_contact(db.session.get(Contact, one.id))
    service.set_primary_contact(db.session.get(Contact, two.id))
    db.session.commit()
    assert _primaries(one.organization_id) == [one.id] and _primaries(two.organization_id) == [two.id]


def test_the_database_never_holds_two_primary_contacts_of_one_organization(make, ctx):
    org = make.organization()
    make.contact(org, is_primary=True)
    db.session.add(
        Contact(organization_id=org.id, first_name="A", last_name="B", email="b@example.test", is_primary=True)
    )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_an_inactive_contact_cannot_be_primary(make, ctx):
    contact = db.session.get(Contact, make.contact(is_active=False).id)
    with pytest.raises(InvalidInput) as caught:
        service.set_primary_contact(contact)
    assert caught.value.errors == {"is_primary": "An inactive contact can't be the primary contact."}
    with pytest.raises(InvalidInput) as caught:
        service.update_contact(contact, _input_of(contact, is_primary=True))
    assert "is_primary" in caught.value.errors


def test_deactivating_the_primary_contact_leaves_the_organization_without_one(make, ctx):
    org = make.organization()
    contact = db.session.get(Contact, make.contact(org, is_primary=True).id)
    service.deactivate_contact(contact)
    db.session.commit()
    assert _primaries(org.id) == [] and not service.has_primary_contact(org.id)


def test_a_new_contact_can_be_created_as_the_primary_one(make, ctx):
    org = make.organization()
    old = make.contact(org, is_primary=True)
    new = service.create_contact(_org(org.id), _data(is_primary=True))
    db.session.commit()
    assert _primaries(org.id) == [new.id] and old.id != new.id


def test_a_moved_primary_contact_leaves_the_old_organization_and_may_lead_the_new_one(make, ctx):
    old_org, new_org = make.organization(), make.organization()
    mover = db.session.get(Contact, make.contact(old_org, is_primary=True).id)
    incumbent = make.contact(new_org, is_primary=True)
    service.update_contact(mover, _input_of(mover, organization=_org(new_org.id), is_primary=False))
    db.session.commit()
    assert _primaries(old_org.id) == [] and _primaries(new_org.id) == [incumbent.id]
    service.update_contact(mover, _input_of(mover, is_primary=True))
    db.session.commit()
    assert _primaries(new_org.id) == [mover.id]


def test_a_contact_cannot_move_to_an_inactive_organization(make, ctx):
    contact = db.session.get(Contact, make.contact().id)
    closed = _org(make.organization().id)
    closed.is_active = False
    db.session.flush()
    with pytest.raises(InvalidInput) as caught:
        service.update_contact(contact, _input_of(contact, organization=closed))
    assert caught.value.errors == {"organization_id": "Choose an active organization."}


# --- the revocation rule -------------------------------------------------------------


@pytest.fixture
def linked(make, app):
    """A contact (level organization_tree) with two open links, and a second organization."""
    delivered = make.delivered(contact=make.contact(portal_level="organization_tree"))
    make.link(delivered.contact, delivered.proposal)
    return delivered, make.organization()


def _open_links(contact_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(PortalLink)
        .where(PortalLink.contact_id == contact_id, PortalLink.revoked_at.is_(None))
    )


REDUCING = {
    "portal disabled": lambda c, other: service.set_portal_access(c, False, c.portal_level),
    "deactivated": lambda c, other: service.deactivate_contact(c),
    "email changed": lambda c, other: service.update_contact(c, _input_of(c, email="new.address@example.test")),
    "organization changed": lambda c, other: service.update_contact(c, _input_of(c, organization=other)),
    "level lowered to organization": lambda c, other: service.set_portal_access(c, True, "organization"),
    "level lowered to requester by an edit": lambda c, other: service.update_contact(
        c, _input_of(c, portal_level="requester")
    ),
    "disabled by an edit": lambda c, other: service.update_contact(c, _input_of(c, portal_enabled=False)),
}


@pytest.mark.parametrize("change", list(REDUCING))
def test_each_narrowing_change_revokes_links_and_bumps_the_epoch(linked, ctx, change):
    delivered, other = linked
    contact = db.session.get(Contact, delivered.contact.id)
    epoch = contact.portal_epoch
    assert _open_links(contact.id) == 2
    REDUCING[change](contact, _org(other.id))
    db.session.commit()
    assert _open_links(contact.id) == 0
    assert db.session.get(Contact, contact.id).portal_epoch == epoch + 1


KEEPING = {
    "renamed": lambda c: service.update_contact(c, _input_of(c, first_name="Corinne", last_name="Parker")),
    "phone, title and time zone": lambda c: service.update_contact(
        c, _input_of(c, phone="+1 555 0100", title="Owner", timezone="Europe/Rome")
    ),
    "email retyped in capitals": lambda c: service.update_contact(c, _input_of(c, email=c.email.upper())),
    "made primary": lambda c: service.update_contact(c, _input_of(c, is_primary=True)),
    "same level again": lambda c: service.set_portal_access(c, True, c.portal_level),
}


@pytest.mark.parametrize("change", list(KEEPING))
def test_other_edits_keep_links_and_sessions(linked, ctx, change):
    delivered, _other = linked
    contact = db.session.get(Contact, delivered.contact.id)
    epoch = contact.portal_epoch
    result = KEEPING[change](contact)
    db.session.commit()
    assert result in (None, False)
    assert _open_links(contact.id) == 2
    assert db.session.get(Contact, contact.id).portal_epoch == epoch


def test_raising_the_level_or_enabling_access_ends_nothing(make, ctx):
    contact = db.session.get(Contact, make.delivered(contact=make.contact(portal_level="requester")).contact.id)
    epoch = contact.portal_epoch
    assert service.set_portal_access(contact, True, "organization") is False
    assert service.set_portal_access(contact, True, "organization_tree") is False
    db.session.commit()
    assert _open_links(contact.id) == 1 and contact.portal_epoch == epoch
    assert service.set_portal_access(contact, False, "organization_tree") is True  # disabling does
    assert service.set_portal_access(contact, True, "organization_tree") is False  # enabling again does not
    db.session.commit()
    assert db.session.get(Contact, contact.id).portal_epoch == epoch + 1


def test_update_contact_tells_whether_it_ended_access(linked, ctx):
    delivered, _other = linked
    contact = db.session.get(Contact, delivered.contact.id)
    assert service.update_contact(contact, _input_of(contact, title="Owner")) is False
    assert (
        service.update_contact(contact, _input_of(contact, email="moved@example.test", portal_level="requester"))
        is True
    )
    db.session.commit()
    # one change, one bump, even when it narrows access in two ways
    assert db.session.get(Contact, contact.id).portal_epoch == 2


def test_end_portal_access_also_expires_pending_sign_in_links(make, ctx):
    contact = make.contact()
    now = utcnow()
    later = now + timedelta(minutes=9)
    db.session.add_all(
        [
            PortalSignIn(contact_id=contact.id, token_hash="a" * 64, code_hash="b" * 64, expires_at=later),
            PortalSignIn(contact_id=contact.id, token_hash="c" * 64, code_hash="d" * 64, expires_at=later, used_at=now),
        ]
    )
    db.session.commit()
    revoked = service.end_portal_access(db.session.get(Contact, contact.id))
    db.session.commit()
    assert revoked == 0
    rows = db.session.scalars(select(PortalSignIn).order_by(PortalSignIn.token_hash)).all()
    assert rows[0].expires_at <= utcnow()  # pending: expired now
    assert rows[1].expires_at > utcnow()  # already used: left as it was


def test_two_epoch_bumps_in_one_transaction_both_count(make, ctx):
    contact = db.session.get(Contact, make.contact().id)
    service.end_portal_access(contact)
    service.end_portal_access(contact)
    db.session.commit()
    assert db.session.scalar(text("SELECT portal_epoch FROM contacts WHERE id = :id"), {"id": contact.id}) == 3


def test_deactivating_twice_changes_nothing_the_second_time(make, ctx):
    contact = db.session.get(Contact, make.contact().id)
    service.deactivate_contact(contact)
    db.session.commit()
    service.deactivate_contact(contact)
    db.session.commit()
    assert db.session.get(Contact, contact.id).portal_epoch == 2


def test_reactivating_keeps_links_revoked_and_sessions_ended(linked, ctx):
    delivered, _other = linked
    contact = db.session.get(Contact, delivered.contact.id)
    service.deactivate_contact(contact)
    service.reactivate_contact(contact)
    db.session.commit()
    contact = db.session.get(Contact, contact.id)
    assert contact.is_active and contact.portal_epoch == 2 and _open_links(contact.id) == 0


# --- search -------------------------------------------------------------------------


def test_search_matches_the_start_of_names_full_name_and_email_in_any_case(make, ctx):
    org = make.organization()
    jane = make.contact(org, first_name="Jane", last_name="Park", email="jp@greenleaf.example")
    omar = make.contact(org, first_name="Omar", last_name="Diaz", email="omar.diaz@harbor.example")
    make.contact(org, first_name="Lucia", last_name="Rossi", email="lucia_rossi@harbor.example")

    def found(query):
        rows, _ = service.list_contacts(service.matching(select(Contact), query))
        return {row.contact.id for row in rows}

    assert found("jane") == {jane.id}
    assert found("PARK") == {jane.id}
    assert found("jane p") == {jane.id}
    assert found("omar.d") == {omar.id}
    assert found("ark") == set()
    assert found("%") == set() and found("_") == set()  # wildcards are literal
    assert len(found("")) == 3
