"""The options a contact ticks are kept on the server until signing: a reload shows
them, another contact never does, and a stale tab's Sign is told what was signed."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from portal.core.extensions import db
from portal.domains.proposals.selection import ProposalSelection
from tests.factories import page_form, sign_form, signature_rows, snapshot

HX = {"HX-Request": "true"}
OPTIONS = (("Mulch", "2", "65.00"), ("Core aeration", "1", "120.00"))


def _ticked(html: str) -> set[int]:
    return {int(v) for v, attrs in re.findall(r'name="option" value="(\d+)"([^>]*)>', html) if "checked" in attrs}


def _grand_total(html: str) -> str:
    return re.search(r'<dd id="grand-total">([^<]+)</dd>', html).group(1)


def _kept(app, proposal_id: int) -> dict[int, str]:
    with app.app_context():
        rows = db.session.execute(
            select(ProposalSelection.contact_id, ProposalSelection.line_ids).where(
                ProposalSelection.proposal_id == proposal_id
            )
        ).all()
        db.session.remove()
    return dict(rows)


def _open(make, client, open_link, **kw):
    delivered = make.delivered(optional=OPTIONS, **kw)
    html = open_link(client, delivered.token).get_data(as_text=True)
    return delivered, [int(i) for i in page_form(html)["options"]]


def test_ticked_options_survive_a_reload(app, make, client, open_link):
    delivered, options = _open(make, client, open_link)
    url = f"/p/proposals/{delivered.proposal.id}"
    response = client.post(f"{url}/options", data={"option": [str(options[1])]}, headers=HX)
    assert response.status_code == 200 and _grand_total(response.get_data(as_text=True)) == "$300.00"
    html = client.get(url).get_data(as_text=True)
    assert _ticked(html) == {options[1]}
    assert _grand_total(html) == "$300.00"  # 180 included + 120


def test_unticking_every_option_is_kept_too(app, make, client, open_link):
    delivered, options = _open(make, client, open_link)
    url = f"/p/proposals/{delivered.proposal.id}"
    client.post(f"{url}/options", data={"option": [str(o) for o in options]}, headers=HX)
    assert _ticked(client.get(url).get_data(as_text=True)) == set(options)
    client.post(f"{url}/options", data={}, headers=HX)
    html = client.get(url).get_data(as_text=True)
    assert _ticked(html) == set() and _grand_total(html) == "$180.00"


def test_a_plain_post_keeps_the_selection_as_well(app, make, client, open_link):
    delivered, options = _open(make, client, open_link)
    url = f"/p/proposals/{delivered.proposal.id}"
    assert client.post(f"{url}/options", data={"option": [str(options[0])]}).status_code == 200
    assert _ticked(client.get(url).get_data(as_text=True)) == {options[0]}


def test_an_unknown_option_is_refused_and_the_kept_selection_stays(app, make, client, open_link):
    delivered, options = _open(make, client, open_link)
    url = f"/p/proposals/{delivered.proposal.id}"
    client.post(f"{url}/options", data={"option": [str(options[0])]}, headers=HX)
    before = snapshot(app)
    response = client.post(f"{url}/options", data={"option": [str(options[0]), "99999"]}, headers=HX)
    assert response.status_code == 422
    assert snapshot(app) == before
    assert _ticked(client.get(url).get_data(as_text=True)) == {options[0]}


def test_one_contacts_selection_never_shows_to_another(app, make, open_link):
    ann = make.contact(first_name="Ann")
    from portal.domains.customers.models import Organization

    with app.app_context():
        org = db.session.get(Organization, ann.organization_id)
        db.session.expunge(org)
    bea = make.contact(org, first_name="Bea")
    ann_client, bea_client = app.test_client(), app.test_client()
    delivered, options = _open(make, ann_client, open_link, contact=ann)
    bea_token = make.link(bea, delivered.proposal)
    open_link(bea_client, bea_token)
    url = f"/p/proposals/{delivered.proposal.id}"
    ann_client.post(f"{url}/options", data={"option": [str(options[0])]}, headers=HX)
    bea_html = bea_client.get(url).get_data(as_text=True)
    assert _ticked(bea_html) == set() and _grand_total(bea_html) == "$180.00"
    bea_client.post(f"{url}/options", data={"option": [str(options[1])]}, headers=HX)
    assert _ticked(ann_client.get(url).get_data(as_text=True)) == {options[0]}
    assert _ticked(bea_client.get(url).get_data(as_text=True)) == {options[1]}
    assert set(_kept(app, delivered.proposal.id)) == {ann.id, bea.id}


def test_signing_removes_every_kept_selection(app, make, client, open_link):
    delivered, options = _open(make, client, open_link)
    url = f"/p/proposals/{delivered.proposal.id}"
    html = client.get(url).get_data(as_text=True)
    client.post(f"{url}/options", data={"option": [str(options[0])]}, headers=HX)
    assert _kept(app, delivered.proposal.id)
    response = client.post(
        f"{url}/sign", data=sign_form(delivered.proposal, [options[0]], seen_hash=page_form(html)["seen_hash"])
    )
    assert response.status_code == 303
    assert _kept(app, delivered.proposal.id) == {}
    (signature,) = signature_rows(app)
    assert signature.signed_total == Decimal("310.00")


def test_a_stale_second_tab_is_told_who_signed_and_with_which_options(app, make, open_link):
    contact = make.contact()
    first_tab, second_tab = app.test_client(), app.test_client()
    delivered, options = _open(make, first_tab, open_link, contact=contact)
    stale_html = open_link(second_tab, make.link(contact, delivered.proposal)).get_data(as_text=True)
    url = f"/p/proposals/{delivered.proposal.id}"
    seen = page_form(stale_html)["seen_hash"]
    signed = first_tab.post(
        f"{url}/sign", data=sign_form(delivered.proposal, [options[1]], signer_name="Dana Early", seen_hash=seen)
    )
    assert signed.status_code == 303
    stale = second_tab.post(
        f"{url}/sign",
        data=sign_form(delivered.proposal, [options[0]], signer_name="Lee Late", seen_hash=seen),
        headers=HX,
    )
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "<html" not in html and 'id="proposal"' in html  # the block htmx swaps
    assert re.search(r"This proposal was already signed on \w{3} \d{1,2}, \d{4}, .+ UTC by Dana Early", html)
    assert "with these options:" in html and "<li>Core aeration</li>" in html and "<li>Mulch</li>" not in html
    assert f'href="{url}"' in html
    (signature,) = signature_rows(app)
    assert signature.signer_name == "Dana Early"


# --- a page open longer than the CSRF token lives ------------------------------------


def test_an_option_tap_after_the_token_expired_refreshes_the_page_and_says_so(
    app, make, client, open_link, monkeypatch
):
    from itsdangerous import TimestampSigner

    from tests.conftest import csrf_token_from

    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    monkeypatch.setitem(app.config, "WTF_CSRF_TIME_LIMIT", 60)
    delivered = make.delivered(optional=OPTIONS)
    old = TimestampSigner.get_timestamp
    with monkeypatch.context() as patch:  # the page was loaded two minutes ago
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: old(self) - 120)
        html = open_link(client, delivered.token).get_data(as_text=True)
    old_token = csrf_token_from(html)
    options = [int(i) for i in page_form(html)["options"]]
    url = f"/p/proposals/{delivered.proposal.id}"
    before = snapshot(app)

    response = client.post(
        f"{url}/options", data={"option": [str(options[0])]}, headers={**HX, "X-CSRFToken": old_token}
    )
    # Not a 400 that htmx drops (the box stayed ticked beside a total without it): htmx
    # acts on HX-Redirect before anything else, whatever the status.
    assert response.status_code == 422
    assert response.headers["HX-Redirect"] == f"{url}?refreshed=1"
    assert snapshot(app) == before  # an untrusted request keeps nothing

    page = client.get(response.headers["HX-Redirect"]).get_data(as_text=True)
    assert "This page was open a long time, so we refreshed it." in page
    assert _ticked(page) == set() and _grand_total(page) == "$180.00"  # boxes and total agree
    fresh = csrf_token_from(page)
    assert fresh != old_token
    again = client.post(f"{url}/options", data={"option": [str(options[0])]}, headers={**HX, "X-CSRFToken": fresh})
    assert again.status_code == 200 and _grand_total(again.get_data(as_text=True)) == "$310.00"


def test_a_plain_option_post_with_an_expired_token_comes_back_to_the_page(app, make, client, open_link, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    delivered, options = _open(make, client, open_link)
    url = f"/p/proposals/{delivered.proposal.id}"
    before = snapshot(app)
    response = client.post(f"{url}/options", data={"option": [str(options[0])], "csrf_token": "stale"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" in html
    assert "This page was open a long time, so we refreshed it." in html
    assert _ticked(html) == set() and _grand_total(html) == "$180.00"
    assert snapshot(app) == before


def test_the_same_choice_sent_again_writes_nothing(app, make, client, open_link, count_queries):
    delivered, options = _open(make, client, open_link)
    url = f"/p/proposals/{delivered.proposal.id}/options"
    assert client.post(url, data={"option": [str(options[0])]}, headers=HX).status_code == 200
    with count_queries() as counter:
        again = client.post(url, data={"option": [str(options[0])]}, headers=HX)
    assert again.status_code == 200 and _grand_total(again.get_data(as_text=True)) == "$310.00"
    assert not [s for s in counter.statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert counter.count == 1, counter.statements  # the access check, with the kept choice
    assert _kept(app, delivered.proposal.id) == {delivered.proposal.contact_id: f"[{options[0]}]"}
