"""Staff proposal pages: build, deliver, decide, inspect signatures; frozen once signed."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from portal.core.extensions import db
from portal.core.templating import format_moment
from portal.domains.customers.models import Contact
from portal.domains.identity.models import PortalLink
from portal.domains.proposals import operations as service
from portal.domains.proposals.models import Proposal, ProposalLine, ProposalStatus, Signature
from portal.domains.proposals.operations import LineInput
from portal.domains.timeline.models import Subject, TimelineEntry
from portal.domains.timeline.operations import events_for
from portal.mail.models import OutboxMessage
from tests.factories import add_to_team

HX = {"HX-Request": "true"}
LINK = re.compile(r"https://portal\.example\.test/l/([A-Za-z0-9_\-]+)")


def _load(app, proposal_id: int) -> Proposal:
    """The proposal as stored now, lines and signature loaded, detached."""
    with app.app_context():
        proposal = service.load_proposal(proposal_id)
        if proposal is None:
            return None
        lines = list(proposal.lines)
        signature = proposal.signature
        db.session.expunge_all()
        proposal.__dict__["_test_lines"] = lines
        proposal.__dict__["_test_signature"] = signature
        return proposal


def _snapshot(app, proposal_id: int) -> tuple:
    """Everything a signer agreed to, plus the version counter: equal means unchanged."""
    with app.app_context():
        proposal = service.load_proposal(proposal_id)
        return (
            service.content_hash(proposal),
            proposal.content_version,
            proposal.status,
            proposal.title,
            proposal.terms,
            [(line.id, line.description, line.quantity, line.unit_price, line.is_optional) for line in proposal.lines],
        )


def _events(app, proposal_id: int) -> list[TimelineEntry]:
    with app.app_context():
        events = events_for(Subject.PROPOSAL, proposal_id, newest_first=False)
        db.session.expunge_all()
        return events


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _outbox(app) -> list[OutboxMessage]:
    with app.app_context():
        messages = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return messages


def _line_form(description="", quantity="1", unit_price="", catalog_item_id=0, optional=False, **extra):
    data = {
        "catalog_item_id": str(catalog_item_id),
        "description": description,
        "quantity": quantity,
        "unit_price": unit_price,
    }
    if optional:
        data["is_optional"] = "y"
    data.update(extra)
    return data


# --- creating and building -------------------------------------------------------


def test_a_sales_rep_cannot_address_a_proposal_to_a_customer_they_may_not_see(app, staff_client, make):
    contact = make.contact(email="hidden@elsewhere.example")
    form = staff_client.get("/admin/proposals/new").get_data(as_text=True)
    assert "hidden@elsewhere.example" not in form
    response = staff_client.post(
        "/admin/proposals/new", data={"contact_id": str(contact.id), "title": "Sneaky", "currency": "USD", "terms": ""}
    )
    assert response.status_code == 422


def test_staff_create_a_draft_proposal_through_the_form(app, staff_client, staff, make):
    contact = make.contact(email="jane@greenleaf.example")
    add_to_team(app, contact.organization_id, staff)
    form = staff_client.get("/admin/proposals/new")
    assert form.status_code == 200
    assert "jane@greenleaf.example" in form.get_data(as_text=True)

    response = staff_client.post(
        "/admin/proposals/new",
        data={"contact_id": str(contact.id), "title": "Hedge care", "currency": "EUR", "terms": "Net 15"},
    )
    assert response.status_code == 303
    proposal_id = int(re.fullmatch(r"/admin/proposals/(\d+)", response.headers["Location"]).group(1))
    proposal = _load(app, proposal_id)
    assert (proposal.title, proposal.currency, proposal.terms) == ("Hedge care", "EUR", "Net 15")
    assert proposal.status == ProposalStatus.DRAFT
    assert (proposal.contact_id, proposal.organization_id, proposal.sales_rep_id) == (
        contact.id,
        contact.organization_id,
        staff.id,
    )
    assert [(e.kind, e.staff_id) for e in _events(app, proposal_id)] == [("created", staff.id)]
    assert staff_client.get(response.headers["Location"]).status_code == 200


def test_creating_a_proposal_without_a_title_shows_the_form_again_with_422(app, staff_client, make):
    contact = make.contact()
    response = staff_client.post(
        "/admin/proposals/new",
        data={"contact_id": str(contact.id), "title": "", "currency": "USD", "terms": "Typed terms stay"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Give the proposal a title." in html
    assert "Typed terms stay" in html
    assert _count(app, Proposal) == 0


def test_adding_a_line_with_htmx_returns_only_the_lines_block(app, staff_client, staff, make):
    proposal = make.proposal(rep=staff, included=(), optional=())
    response = staff_client.post(
        f"/admin/proposals/{proposal.id}/lines", headers=HX, data=_line_form("Edging", "3", "30.00")
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert html.lstrip().startswith('<section class="card" id="lines">')
    assert "Edging" in html and "$90.00" in html
    assert "HX-Request" in response.headers["Vary"]
    lines = _load(app, proposal.id)._test_lines
    assert [(l.description, l.quantity, l.unit_price, l.is_optional) for l in lines] == [
        ("Edging", Decimal("3.000"), Decimal("30.00"), False)
    ]


def test_adding_a_line_with_a_plain_post_redirects_with_303(app, staff_client, staff, make):
    proposal = make.proposal(rep=staff, included=(), optional=())
    response = staff_client.post(
        f"/admin/proposals/{proposal.id}/lines", data=_line_form("Snow removal", "8", "150.00", optional=True)
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/proposals/{proposal.id}#lines"
    lines = _load(app, proposal.id)._test_lines
    assert [(l.description, l.is_optional) for l in lines] == [("Snow removal", True)]


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(
    "data, message, kept",
    [
        (
            _line_form("Mowing", "-2", "45.00"),
            "Quantity must be greater than zero.",
            ['value="-2"', "Mowing</textarea>"],
        ),
        (_line_form("Mowing", "2", "12abc"), "Enter a number.", ['value="12abc"', "Mowing</textarea>"]),
        (
            _line_form("", "3", "12.50"),
            "Describe the line, or choose a service from the catalog.",
            ['value="3"', 'value="12.50"'],
        ),
        (
            _line_form("Mowing", "2", "10000000000"),
            "Unit price can be at most 9,999,999,999.99.",
            ['value="10000000000"', "Mowing</textarea>"],
        ),
        (
            _line_form("Mowing", "1000000", "99999999"),
            "Quantity times unit price can be at most 9,999,999,999.99.",
            ['value="1000000"', "Mowing</textarea>"],
        ),
        (_line_form("Mowing", "2", "NaN"), "Enter a number.", ["Mowing</textarea>"]),
        (_line_form("Mowing", "NaN", "1.00"), "Enter a number.", ["Mowing</textarea>"]),
    ],
    ids=[
        "negative-quantity",
        "letters-in-price",
        "blank-description",
        "price-too-large",
        "amount-too-large",
        "nan-price",
        "nan-quantity",
    ],
)
def test_bad_line_input_answers_422_with_messages_and_keeps_what_was_typed(
    app, staff_client, staff, make, htmx, data, message, kept
):
    proposal = make.proposal(rep=staff, included=(("Existing", "1", "10.00"),), optional=())
    before = _snapshot(app, proposal.id)
    response = staff_client.post(f"/admin/proposals/{proposal.id}/lines", data=data, headers=HX if htmx else {})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    for fragment in kept:
        assert fragment in html, fragment
    assert 'aria-invalid="true"' in html
    assert ("<html" in html) is not htmx
    assert _snapshot(app, proposal.id) == before


def test_editing_a_line_in_place_updates_it(app, staff_client, staff, make):
    proposal = make.proposal(rep=staff, included=(("Mowing", "4", "45.00"),), optional=())
    line = _load(app, proposal.id)._test_lines[0]
    response = staff_client.post(
        f"/admin/proposals/{proposal.id}/lines/{line.id}",
        headers=HX,
        data=_line_form("Mowing, weekly", "5", "40.00", position="1"),
    )
    assert response.status_code == 200
    assert "<html" not in response.get_data(as_text=True)
    (saved,) = _load(app, proposal.id)._test_lines
    assert (saved.description, saved.quantity, saved.unit_price) == (
        "Mowing, weekly",
        Decimal("5.000"),
        Decimal("40.00"),
    )


def test_removing_a_line_with_htmx_returns_the_lines_block(app, staff_client, staff, make):
    proposal = make.proposal(rep=staff, included=(("Mowing", "4", "45.00"), ("Edging", "1", "30.00")), optional=())
    first = _load(app, proposal.id)._test_lines[0]
    response = staff_client.post(f"/admin/proposals/{proposal.id}/lines/{first.id}/delete", headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and 'id="lines"' in html
    assert [l.description for l in _load(app, proposal.id)._test_lines] == ["Edging"]


def test_editor_shows_the_included_total_and_the_optional_total_apart(staff_client, staff, make):
    proposal = make.proposal(
        rep=staff,
        included=(("Mowing", "4", "45.00"), ("Edging", "2", "30.00")),
        optional=(("Mulch", "2", "65.00"), ("Aeration", "1", "120.00")),
    )
    html = staff_client.get(f"/admin/proposals/{proposal.id}").get_data(as_text=True)
    assert '<dd id="included-total">$240.00</dd>' in html
    assert '<dd id="optional-total">$250.00</dd>' in html


def test_choosing_a_catalog_item_fills_description_and_price(app, staff_client, staff, make):
    item = make.catalog_item("Core aeration", "120.00")
    proposal = make.proposal(rep=staff, included=(), optional=())
    response = staff_client.post(
        f"/admin/proposals/{proposal.id}/lines", data=_line_form("", "2", "", catalog_item_id=item.id, optional=True)
    )
    assert response.status_code == 303
    (line,) = _load(app, proposal.id)._test_lines
    assert (line.description, line.unit_price, line.catalog_item_id, line.is_optional) == (
        "Core aeration",
        Decimal("120.00"),
        item.id,
        True,
    )


def test_a_typed_price_overrides_the_catalog_price(app, staff_client, staff, make):
    item = make.catalog_item("Core aeration", "120.00")
    proposal = make.proposal(rep=staff, included=(), optional=())
    staff_client.post(
        f"/admin/proposals/{proposal.id}/lines",
        data=_line_form("Aeration, front lawn only", "1", "99.00", catalog_item_id=item.id),
    )
    (line,) = _load(app, proposal.id)._test_lines
    assert (line.description, line.unit_price) == ("Aeration, front lawn only", Decimal("99.00"))


# --- delivering --------------------------------------------------------------------


def test_delivering_mails_the_contact_an_absolute_portal_link_from_base_url(app, staff_client, staff, make, open_link):
    proposal = make.proposal(rep=staff, title="Grounds care 2027")
    contact = _load(app, proposal.id).contact_id
    # a forged Host header must not leak into the emailed link
    staff_client.set_cookie("porchlight", staff_client.get_cookie("porchlight").value, domain="attacker.example")
    response = staff_client.post(
        f"/admin/proposals/{proposal.id}/deliver", data={"contact_id": str(contact)}, base_url="http://attacker.example"
    )
    assert response.status_code == 303
    stored = _load(app, proposal.id)
    assert stored.status == ProposalStatus.DELIVERED and stored.delivered_at is not None

    (message,) = _outbox(app)
    with app.app_context():
        assert message.to_addr == db.session.get(Contact, contact).email
    assert message.kind == "proposal_delivered" and message.status == "pending"
    assert "attacker.example" not in message.body_text
    token = LINK.search(message.body_text).group(1)
    page = open_link(app.test_client(), token)
    assert page.status_code == 200
    assert "Grounds care 2027" in page.get_data(as_text=True)
    assert [(e.kind, e.staff_id, e.contact_id) for e in _events(app, proposal.id)][-1] == (
        "delivered",
        staff.id,
        contact,
    )


def test_delivering_to_a_contact_of_another_organization_is_refused(app, staff_client, staff, make):
    proposal = make.proposal(rep=staff)
    stranger = make.contact()  # a contact of a different organization
    response = staff_client.post(f"/admin/proposals/{proposal.id}/deliver", data={"contact_id": str(stranger.id)})
    assert response.status_code == 422
    assert _load(app, proposal.id).status == ProposalStatus.DRAFT
    assert _outbox(app) == []
    assert _count(app, PortalLink) == 0


def test_delivering_a_proposal_without_lines_is_refused(app, staff_client, staff, make):
    proposal = make.proposal(rep=staff, included=(), optional=())
    response = staff_client.post(
        f"/admin/proposals/{proposal.id}/deliver", data={"contact_id": str(_load(app, proposal.id).contact_id)}
    )
    assert response.status_code == 409
    assert "Add at least one line before delivering." in response.get_data(as_text=True)
    assert _load(app, proposal.id).status == ProposalStatus.DRAFT
    assert _outbox(app) == []


# --- deciding ------------------------------------------------------------------------


def test_mark_won_records_a_staff_decision(app, staff_client, staff, make):
    delivered = make.delivered(rep=staff)
    response = staff_client.post(f"/admin/proposals/{delivered.proposal.id}/won")
    assert response.status_code == 303
    stored = _load(app, delivered.proposal.id)
    assert stored.status == ProposalStatus.WON
    assert stored.decided_by_id == staff.id and stored.decided_at is not None
    assert stored.signed_at is None  # a staff decision is never a signature
    last = _events(app, delivered.proposal.id)[-1]
    assert (last.kind, last.staff_id, last.contact_id) == ("won", staff.id, None)
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Marked won by Sam Sales" in page


def test_mark_lost_requires_a_reason(app, staff_client, staff, make):
    delivered = make.delivered(rep=staff)
    response = staff_client.post(
        f"/admin/proposals/{delivered.proposal.id}/lost",
        data={"reason": "", "competitor": "Acme Lawn", "detail": "Typed detail"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Not a valid choice" in html or "This field is required" in html
    assert "Acme Lawn" in html and "Typed detail" in html
    assert _load(app, delivered.proposal.id).status == ProposalStatus.DELIVERED


def test_mark_lost_stores_reason_competitor_and_detail_as_a_staff_action(app, staff_client, staff, make):
    delivered = make.delivered(rep=staff)
    response = staff_client.post(
        f"/admin/proposals/{delivered.proposal.id}/lost",
        data={"reason": "competitor", "competitor": "Acme Lawn", "detail": "They were 10% cheaper."},
    )
    assert response.status_code == 303
    stored = _load(app, delivered.proposal.id)
    assert (stored.status, stored.lost_reason, stored.lost_competitor, stored.lost_detail) == (
        ProposalStatus.LOST,
        "competitor",
        "Acme Lawn",
        "They were 10% cheaper.",
    )
    assert stored.decided_by_id == staff.id
    last = _events(app, delivered.proposal.id)[-1]
    assert (last.kind, last.staff_id, last.contact_id, last.detail) == ("lost", staff.id, None, "competitor")


def test_mark_won_on_a_draft_is_refused_with_409(app, staff_client, staff, make):
    proposal = make.proposal(rep=staff)
    response = staff_client.post(f"/admin/proposals/{proposal.id}/won")
    assert response.status_code == 409
    assert "Only a delivered proposal can be marked won or lost." in response.get_data(as_text=True)
    stored = _load(app, proposal.id)
    assert stored.status == ProposalStatus.DRAFT and stored.decided_at is None
    assert [e.kind for e in _events(app, proposal.id)] == ["created"]


# --- the list ------------------------------------------------------------------------


def test_filtering_the_list_by_status_shows_only_matching_proposals(app, staff_client, staff, make):
    draft = make.proposal(rep=staff, title="Still a draft")
    delivered = make.delivered(rep=staff, title="Out for signature")
    response = staff_client.get("/admin/proposals/?status=delivered")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Out for signature" in html and "Still a draft" not in html
    assert '<option value="delivered" selected>' in html
    assert f'href="/admin/proposals/{delivered.proposal.id}"' in html
    assert f'href="/admin/proposals/{draft.id}"' not in html


def test_filtering_with_htmx_returns_only_the_results_block(staff_client, staff, make):
    make.delivered(rep=staff, title="Out for signature")
    response = staff_client.get("/admin/proposals/?status=draft", headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="results"')
    assert "Out for signature" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_list_pages_follow_a_keyset_cursor_and_keep_the_status_filter(app, staff_client, staff, make):
    # Changed with keyset paging: pages follow an ``after`` cursor instead of ``page=N``.
    contact = make.contact()
    for n in range(26):
        make.proposal(contact=contact, rep=staff, title=f"Draft {n}")
    make.delivered(rep=staff, title="Out for signature")
    html = staff_client.get("/admin/proposals/?status=draft").get_data(as_text=True)
    first = set(re.findall(r'href="/admin/proposals/(\d+)"', html))
    assert len(first) == 25 and "Out for signature" not in html
    next_href = re.search(r'href="(/admin/proposals/\?status=draft&amp;after=[^"]+)"', html).group(1)
    second = staff_client.get(next_href.replace("&amp;", "&"))
    assert second.status_code == 200
    page = second.get_data(as_text=True)
    rest = set(re.findall(r'href="/admin/proposals/(\d+)"', page))
    assert len(rest) == 1 and not rest & first
    assert "Draft 0" in page  # the oldest comes last
    assert 'href="/admin/proposals/?status=draft"' in page  # back to the first page
    assert "after=" not in page


def test_a_malformed_cursor_shows_the_first_page(staff_client, staff, make):
    make.proposal(rep=staff, title="Still a draft")
    response = staff_client.get("/admin/proposals/?after=%%%not-a-cursor")
    assert response.status_code == 200
    assert "Still a draft" in response.get_data(as_text=True)


def test_an_unknown_status_filter_lists_everything(staff_client, staff, make):
    make.proposal(rep=staff, title="Still a draft")
    response = staff_client.get("/admin/proposals/?status=bogus")
    assert response.status_code == 200
    assert "Still a draft" in response.get_data(as_text=True)


# --- signatures ----------------------------------------------------------------------


def test_list_shows_a_signature_icon_linking_to_the_signature_page_for_signed_proposals(staff_client, staff, make):
    signed = make.signed(make.delivered(rep=staff))
    unsigned = make.delivered(rep=staff)
    html = staff_client.get("/admin/proposals/").get_data(as_text=True)
    signed_href = f'href="/admin/proposals/{signed.proposal.id}/signature"'
    assert re.search(r'<a class="sig-icon" ' + re.escape(signed_href), html)
    assert f'href="/admin/proposals/{unsigned.proposal.id}/signature"' not in html
    assert html.count('class="sig-icon"') == 1
    assert staff_client.get(f"/admin/proposals/{signed.proposal.id}/signature").status_code == 200


def test_signature_page_shows_signer_time_options_total_and_intact(app, staff_client, staff, make):
    delivered = make.delivered(
        rep=staff,
        included=(("Weekly mowing", "4", "45.00"),),
        optional=(("Mulch", "2", "65.00"), ("Core aeration", "1", "120.00")),
    )
    signed = make.signed(delivered, option_count=1)  # picks Mulch
    response = staff_client.get(f"/admin/proposals/{signed.proposal.id}/signature")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    with app.app_context():
        sig = db.session.scalar(select(Signature).where(Signature.proposal_id == signed.proposal.id))
        with app.test_request_context():
            when = format_moment(sig.signed_at)  # the one date-time look, with the zone
    assert "Cora Contact" in html
    assert when in html
    assert "Mulch ($130.00)" in html
    assert "Core aeration" not in html
    assert "$310.00" in html
    assert 'id="integrity">Intact' in html
    image = staff_client.get(f"/admin/proposals/{signed.proposal.id}/signature.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.data.startswith(b"\x89PNG")


def test_tampering_with_the_stored_hash_shows_mismatch(app, staff_client, staff, make):
    signed = make.signed(make.delivered(rep=staff))
    with app.app_context():
        db.session.execute(
            update(Signature).where(Signature.proposal_id == signed.proposal.id).values(content_hash="0" * 64)
        )
        db.session.commit()
    html = staff_client.get(f"/admin/proposals/{signed.proposal.id}/signature").get_data(as_text=True)
    assert 'id="integrity">Mismatch' in html
    assert "Intact" not in html


def test_changing_a_signed_line_behind_the_apps_back_shows_mismatch(app, staff_client, staff, make):
    signed = make.signed(make.delivered(rep=staff))
    with app.app_context():
        db.session.execute(
            update(ProposalLine)
            .where(ProposalLine.proposal_id == signed.proposal.id)
            .values(unit_price=Decimal("1.00"))
        )
        db.session.commit()
    html = staff_client.get(f"/admin/proposals/{signed.proposal.id}/signature").get_data(as_text=True)
    assert 'id="integrity">Mismatch' in html


def test_revoking_a_link_from_the_admin_page_stops_it_working(app, staff_client, staff, make, open_link):
    delivered = make.delivered(rep=staff)
    portal = app.test_client()
    assert open_link(portal, delivered.token).status_code == 200
    page = staff_client.get(f"/admin/proposals/{delivered.proposal.id}").get_data(as_text=True)
    revoke_url = f"/admin/proposals/{delivered.proposal.id}/links/{delivered.link_id}/revoke"
    assert f'action="{revoke_url}"' in page

    response = staff_client.post(revoke_url)
    assert response.status_code == 303
    assert staff_client.get(response.headers["Location"]).status_code == 200
    assert app.test_client().get(f"/l/{delivered.token}").status_code == 410
    # the contact who already opened it loses access at once
    assert portal.get(f"/p/proposals/{delivered.proposal.id}").status_code == 410


SIGNED_EDITS = {
    "add-line": lambda p, line: (f"/admin/proposals/{p}/lines", _line_form("Extra", "1", "1.00")),
    "update-line": lambda p, line: (f"/admin/proposals/{p}/lines/{line}", _line_form("Cheaper", "1", "1.00")),
    "delete-line": lambda p, line: (f"/admin/proposals/{p}/lines/{line}/delete", {}),
    "header": lambda p, line: (
        f"/admin/proposals/{p}/header",
        {"title": "New title", "terms": "New terms", "internal_notes": ""},
    ),
    "deliver": lambda p, line: (f"/admin/proposals/{p}/deliver", None),
}


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("action", list(SIGNED_EDITS))
def test_editing_a_signed_proposal_is_refused_with_409_and_changes_nothing(
    app, staff_client, staff, make, action, htmx
):
    signed = make.signed(make.delivered(rep=staff))
    pid = signed.proposal.id
    line = _load(app, pid)._test_lines[0].id
    before = _snapshot(app, pid)
    outbox_before, links_before = len(_outbox(app)), _count(app, PortalLink)
    url, data = SIGNED_EDITS[action](pid, line)
    if data is None:
        data = {"contact_id": str(signed.contact.id)}
    response = staff_client.post(url, data=data, headers=HX if htmx else {})
    assert response.status_code == 409, response.status_code
    assert "can no longer change" in response.get_data(as_text=True) or action == "deliver"
    assert _snapshot(app, pid) == before
    assert (len(_outbox(app)), _count(app, PortalLink)) == (outbox_before, links_before)
    html = staff_client.get(f"/admin/proposals/{pid}/signature").get_data(as_text=True)
    assert 'id="integrity">Intact' in html


def test_internal_notes_of_a_signed_proposal_can_still_change(app, staff_client, staff, make):
    signed = make.signed(make.delivered(rep=staff))
    stored = _load(app, signed.proposal.id)
    before = _snapshot(app, signed.proposal.id)
    response = staff_client.post(
        f"/admin/proposals/{signed.proposal.id}/header",
        data={"title": stored.title, "terms": stored.terms, "internal_notes": "Call before the first visit."},
    )
    assert response.status_code == 303
    assert _load(app, signed.proposal.id).internal_notes == "Call before the first visit."
    assert _snapshot(app, signed.proposal.id) == before


def test_signed_editor_page_shows_no_edit_forms(staff_client, staff, make):
    signed = make.signed(make.delivered(rep=staff))
    html = staff_client.get(f"/admin/proposals/{signed.proposal.id}").get_data(as_text=True)
    assert 'id="new-line"' not in html
    assert "/delete" not in html
    assert "the content is frozen" in html


# --- missing objects -----------------------------------------------------------------

MISSING = [
    ("GET", "/admin/proposals/999999"),
    ("GET", "/admin/proposals/{unsigned}/signature"),
    ("GET", "/admin/proposals/{unsigned}/signature.png"),
    ("GET", "/admin/proposals/999999/signature"),
    ("POST", "/admin/proposals/999999/lines"),
    ("POST", "/admin/proposals/{unsigned}/lines/999999"),
    ("POST", "/admin/proposals/{unsigned}/lines/999999/delete"),
    ("POST", "/admin/proposals/{unsigned}/lines/{other_line}"),
    ("POST", "/admin/proposals/{unsigned}/lines/{other_line}/delete"),
    ("POST", "/admin/proposals/{unsigned}/links/999999/revoke"),
    ("POST", "/admin/proposals/{unsigned}/links/{other_link}/revoke"),
    ("POST", "/admin/proposals/999999/won"),
    ("POST", "/admin/proposals/999999/lost"),
    ("POST", "/admin/proposals/999999/deliver"),
    ("POST", "/admin/proposals/999999/revise"),
    ("POST", "/admin/proposals/999999/header"),
    ("POST", "/admin/outbox/999999/retry"),
]


@pytest.mark.parametrize("method, template", MISSING)
def test_objects_that_do_not_exist_answer_404(app, staff_client, staff, make, method, template):
    unsigned = make.delivered(rep=staff)
    other = make.delivered(rep=staff)
    values = {
        "unsigned": unsigned.proposal.id,
        "other_link": other.link_id,
        "other_line": _load(app, other.proposal.id)._test_lines[0].id,
    }
    before = (_snapshot(app, unsigned.proposal.id), _snapshot(app, other.proposal.id))
    response = staff_client.open(template.format(**values), method=method, data=_line_form("X", "1", "1.00"))
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    assert (_snapshot(app, unsigned.proposal.id), _snapshot(app, other.proposal.id)) == before
    with app.app_context():
        assert db.session.get(PortalLink, other.link_id).revoked_at is None


# --- query counts --------------------------------------------------------------------


def _many_proposals(make, app, staff, count: int, signed_every: int = 5) -> None:
    for n in range(count):
        contact = make.contact()
        proposal = make.proposal(contact=contact, rep=staff, title=f"Proposal {n}")
        if n % signed_every == 0:
            make.signed(make.delivered(proposal=proposal))


def test_proposal_list_query_count_does_not_grow_with_the_number_of_proposals(
    app, staff_client, staff, make, count_queries
):
    _many_proposals(make, app, staff, 3)
    with count_queries() as few:
        assert staff_client.get("/admin/proposals/").status_code == 200
    _many_proposals(make, app, staff, 27)
    with count_queries() as many:
        response = staff_client.get("/admin/proposals/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count('href="/admin/proposals/') - html.count("/signature") >= 25
    assert many.count == few.count, many.statements


def test_proposal_page_query_count_does_not_grow_with_the_number_of_lines(
    app, staff_client, staff, make, count_queries
):
    delivered = make.delivered(
        rep=staff, included=(("A", "1", "1.00"), ("B", "1", "1.00")), optional=(("C", "1", "1.00"),)
    )
    pid = delivered.proposal.id
    with count_queries() as few:
        assert staff_client.get(f"/admin/proposals/{pid}").status_code == 200
    with app.app_context():
        proposal = service.load_proposal(pid)
        for n in range(27):
            service.add_line(proposal, LineInput(f"Line {n}", Decimal("1"), Decimal("2.00"), n % 3 == 0))
        db.session.commit()
    assert len(_load(app, pid)._test_lines) == 30
    with count_queries() as many:
        response = staff_client.get(f"/admin/proposals/{pid}")
    assert response.status_code == 200
    assert "Line 26" in response.get_data(as_text=True)
    assert many.count == few.count, many.statements


# --- totals, signed proposals and lost decisions in the list and on the page ------------


def _row(html: str, proposal_id: int) -> str:
    """The list's table row of one proposal."""
    start = html.index(f'href="/admin/proposals/{proposal_id}"')
    return html[html.rindex("<tr", 0, start) : html.index("</tr>", start)]


def test_list_and_page_show_the_same_total_rounded_per_line(staff_client, staff, make):
    # 0.333 x 1.00 three times: 0.33 per line, 0.99 in all (summing first gave 1.00)
    proposal = make.proposal(rep=staff, included=(("Visit", "0.333", "1.00"),) * 3, optional=())
    row = _row(staff_client.get("/admin/proposals/").get_data(as_text=True), proposal.id)
    page = staff_client.get(f"/admin/proposals/{proposal.id}").get_data(as_text=True)
    assert "$0.99" in row and "$1.00" not in row
    assert '<dd id="included-total">$0.99</dd>' in page


def test_list_shows_the_signed_total_of_signed_proposals(staff_client, staff, make):
    delivered = make.delivered(
        rep=staff, included=(("Weekly mowing", "4", "45.00"),), optional=(("Mulch", "2", "65.00"),)
    )
    signed = make.signed(delivered, option_count=1)  # 180 + 130
    unsigned = make.delivered(rep=staff, included=(("Edging", "1", "30.00"),), optional=(("Mulch", "2", "65.00"),))
    html = staff_client.get("/admin/proposals/").get_data(as_text=True)
    assert "$310.00" in _row(html, signed.proposal.id) and "$180.00" not in _row(html, signed.proposal.id)
    assert "Cora Contact" in _row(html, signed.proposal.id)  # the signer, by name
    assert "$30.00" in _row(html, unsigned.proposal.id)


def test_the_signed_filter_lists_signed_proposals_only(staff_client, staff, make):
    signed = make.signed(make.delivered(rep=staff, title="Signed one"))
    make.delivered(rep=staff, title="Awaiting one")
    make.proposal(rep=staff, title="Draft one")
    response = staff_client.get("/admin/proposals/?status=signed")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<option value="signed" selected>Signed</option>' in html
    assert "Signed one" in html and "Awaiting one" not in html and "Draft one" not in html
    assert f'href="/admin/proposals/{signed.proposal.id}"' in html


def test_a_signed_proposal_page_shows_the_signature_signer_time_and_total_at_the_top(app, staff_client, staff, make):
    delivered = make.delivered(
        rep=staff, included=(("Weekly mowing", "4", "45.00"),), optional=(("Mulch", "2", "65.00"),)
    )
    signed = make.signed(delivered, option_count=1)
    html = staff_client.get(f"/admin/proposals/{signed.proposal.id}").get_data(as_text=True)
    summary = html.split('id="signature-summary"', 1)[1].split("</section>", 1)[0]
    assert html.index('id="signature-summary"') < html.index('id="lines"')
    assert f'<img class="signature-image" src="/admin/proposals/{signed.proposal.id}/signature.png"' in summary
    assert '<dd id="signer-name">Cora Contact</dd>' in summary
    assert '<dd id="signed-total">$310.00</dd>' in summary
    with app.test_request_context():
        signed_at = _load(app, signed.proposal.id).signed_at
        assert f'<dd id="signed-at">{format_moment(signed_at)}</dd>' in summary
    unsigned = make.delivered(rep=staff)
    assert 'id="signature-summary"' not in staff_client.get(f"/admin/proposals/{unsigned.proposal.id}").get_data(
        as_text=True
    )


def test_a_lost_proposal_revised_later_still_reads_lost_with_its_reason(app, staff_client, staff, make):
    delivered = make.delivered(rep=staff, title="Lost then revised")
    staff_client.post(f"/admin/proposals/{delivered.proposal.id}/lost", data={"reason": "price"})
    assert staff_client.post(f"/admin/proposals/{delivered.proposal.id}/revise").status_code == 303
    assert _load(app, delivered.proposal.id).status == ProposalStatus.SUPERSEDED
    row = _row(staff_client.get("/admin/proposals/").get_data(as_text=True), delivered.proposal.id)
    assert "Lost (price)" in row and "Superseded" in row
    page = staff_client.get(f"/admin/proposals/{delivered.proposal.id}").get_data(as_text=True)
    assert "Lost (price)" in page
    assert "Marked lost by Sam Sales" in page


def test_the_list_runs_the_same_statements_for_few_or_many_and_never_reads_the_lines(
    staff_client, staff, make, count_queries
):
    def add(n: int) -> None:
        for i in range(n):
            delivered = make.delivered(rep=staff)
            if i % 2 == 0:
                make.signed(delivered)

    def run() -> tuple[int, list[str]]:
        staff_client.get("/admin/proposals/")  # warm: the login's own lookups aside
        with count_queries() as counter:
            response = staff_client.get("/admin/proposals/")
        assert response.status_code == 200
        return counter.count, counter.statements

    add(2)
    few, _statements = run()
    add(30)
    many, statements = run()
    assert few == many, (few, many)
    assert not [s for s in statements if "proposal_lines" in s]


# --- the line editor ----------------------------------------------------------------------


def _grid_cells(html: str) -> list[int]:
    """How many cells (direct children, hidden inputs aside) each line-grid row has."""
    from html.parser import HTMLParser

    void = {"input", "br", "img", "meta", "link"}

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows: list[int] = []
            self.depth = 0  # depth inside the current grid row, 0 outside
            self.stack: list[str] = []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if self.depth == 0:
                if "line-grid" in (attrs.get("class") or "").split():
                    self.rows.append(0)
                    self.depth = 1
                return
            if self.depth == 1 and not (tag == "input" and attrs.get("type") == "hidden"):
                self.rows[-1] += 1
            if tag not in void:
                self.depth += 1

        def handle_endtag(self, tag):
            if self.depth and tag not in void:
                self.depth -= 1

    parser = Cells()
    parser.feed(html)
    return parser.rows


def test_editor_rows_have_as_many_cells_as_the_header(staff_client, staff, make):
    editable = make.proposal(rep=staff, included=(("Mowing", "4", "45.00"),), optional=(("Mulch", "2", "65.00"),))
    frozen = make.signed(make.delivered(rep=staff))
    for proposal_id in (editable.id, frozen.proposal.id):
        cells = _grid_cells(staff_client.get(f"/admin/proposals/{proposal_id}").get_data(as_text=True))
        assert len(cells) == 3 and len(set(cells)) == 1, cells  # the head and two lines


def test_editor_shows_quantities_without_trailing_zeros_and_whole_descriptions(app, staff_client, staff, make):
    long = "Weekly mowing of the front and back lawns, edges trimmed, clippings bagged and taken away " * 3
    proposal = make.proposal(
        rep=staff, included=((long.strip(), "4", "45.00"), ("Edging", "2.5", "10.00")), optional=()
    )
    html = staff_client.get(f"/admin/proposals/{proposal.id}").get_data(as_text=True)
    lines = _load(app, proposal.id)._test_lines
    assert re.search(rf'<input[^>]*id="qty-{lines[0].id}"[^>]*value="4">', html)
    assert 'value="2.5"' in html and "4.000" not in html and "2.500" not in html
    assert f"{long.strip()}</textarea>" in html  # wraps in a text area, not cut by a one-line input


def test_choosing_a_catalog_service_previews_its_description_and_price(staff_client, staff, make):
    item = make.catalog_item(name="Core aeration", price="120.00")
    proposal = make.proposal(rep=staff)
    html = staff_client.get(f"/admin/proposals/{proposal.id}").get_data(as_text=True)
    assert f'hx-get="/admin/proposals/{proposal.id}/catalog-preview"' in html
    url = f"/admin/proposals/{proposal.id}/catalog-preview?catalog_item_id={item.id}"
    response = staff_client.get(url, headers=HX)
    partial = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in partial
    assert partial.lstrip().startswith('<div id="catalog-preview"')
    assert "Core aeration" in partial and "$120.00" in partial
    page = staff_client.get(url).get_data(as_text=True)  # without JavaScript: the editor, service chosen
    assert "<html" in page and f'<option selected value="{item.id}">' in page and "$120.00" in page
    assert "Core aeration" not in staff_client.get(
        f"/admin/proposals/{proposal.id}/catalog-preview?catalog_item_id=0", headers=HX
    ).get_data(as_text=True)
