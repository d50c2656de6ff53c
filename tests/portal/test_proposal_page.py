"""The contact's proposal page: lines, optional services, live totals, query count."""

from __future__ import annotations

import re

import pytest

from portal.core.pagecache import render_cache
from tests.factories import page_form

HX = {"HX-Request": "true"}


def _checkboxes(html):
    """option id -> whether its box is ticked."""
    return {
        int(value): "checked" in attrs
        for value, attrs in re.findall(r'<input type="checkbox" name="option" value="(\d+)"([^>]*)>', html)
    }


def _grand_total(html):
    return re.search(r'<dd id="grand-total">([^<]+)</dd>', html).group(1)


def _sections(html):
    included = html.split("<h2>Included</h2>", 1)[1].split("</section>", 1)[0]
    optional = html.split("<h2>Optional services</h2>", 1)[1].split("</section>", 1)[0]
    return included, optional


@pytest.fixture
def opened(make, client, open_link):
    """A delivered proposal (4 x 45.00 included, optional 2 x 65.00) opened in ``client``."""
    delivered = make.delivered(
        included=(("Weekly mowing", "4", "45.00"), ("Edging", "3", "0.10")),
        optional=(("Mulch installation", "2", "65.00"), ("Core aeration", "1", "120.00")),
    )
    page = open_link(client, delivered.token)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    delivered.html = html
    delivered.options = [int(i) for i in page_form(html)["options"]]
    return delivered


def test_the_page_shows_included_lines_and_the_estimate(opened):
    included, optional = _sections(opened.html)
    assert "Weekly mowing" in included and "Edging" in included
    assert "Mulch installation" not in included
    assert "$180.00" in included and "$0.30" in included
    assert re.search(r"<dt>Estimate</dt><dd>\$180\.30</dd>", opened.html)
    assert _grand_total(opened.html) == "$180.30"


def test_optional_lines_have_unticked_checkboxes_and_are_not_in_the_estimate(opened):
    _included, optional = _sections(opened.html)
    assert "Mulch installation" in optional and "+$130.00" in optional
    assert "Core aeration" in optional and "+$120.00" in optional
    boxes = _checkboxes(opened.html)
    assert sorted(boxes) == sorted(opened.options) and len(boxes) == 2
    assert not any(boxes.values())
    assert re.search(r"<dt>Optional services chosen</dt><dd>\$0\.00</dd>", opened.html)


def test_the_page_carries_the_hash_of_the_content_shown(app, opened):
    from portal.domains.proposals import operations as proposals

    with app.app_context():
        expected = proposals.content_hash(proposals.load_proposal(opened.proposal.id))
    assert page_form(opened.html)["seen_hash"] == expected


def test_htmx_option_change_returns_only_the_totals_block(client, opened):
    response = client.post(
        f"/p/proposals/{opened.proposal.id}/options", data={"option": [str(opened.options[0])]}, headers=HX
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="totals"')
    assert len(response.get_data()) < 4096
    assert _grand_total(html) == "$310.30"
    assert re.search(r"<dt>Optional services chosen</dt><dd>\$130\.00</dd>", html)


def test_htmx_totals_with_every_option_ticked(client, opened):
    response = client.post(
        f"/p/proposals/{opened.proposal.id}/options", data={"option": [str(i) for i in opened.options]}, headers=HX
    )
    assert _grand_total(response.get_data(as_text=True)) == "$430.30"


def test_a_plain_post_returns_the_whole_page_with_boxes_ticked(client, opened):
    chosen = opened.options[1]
    response = client.post(
        f"/p/proposals/{opened.proposal.id}/options", data={"option": [str(chosen)], "signer_name": "Cora"}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" in html
    assert _checkboxes(html) == {opened.options[0]: False, chosen: True}
    assert _grand_total(html) == "$300.30"
    assert 'value="Cora"' in html  # what was typed survives the round trip


@pytest.mark.parametrize("headers", [HX, {}], ids=["htmx", "plain"])
def test_unknown_option_ids_are_refused_with_a_message(client, opened, headers):
    response = client.post(
        f"/p/proposals/{opened.proposal.id}/options",
        data={"option": [str(opened.options[0]), "999999"]},
        headers=headers,
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Some of the chosen options are not part of this proposal." in html
    assert ("<html" in html) == (not headers)


def test_an_included_line_id_is_not_accepted_as_an_option(app, client, opened):
    from portal.domains.proposals import operations as proposals

    with app.app_context():
        included = next(line.id for line in proposals.load_proposal(opened.proposal.id).lines if not line.is_optional)
    response = client.post(f"/p/proposals/{opened.proposal.id}/options", data={"option": [str(included)]}, headers=HX)
    assert response.status_code == 422
    assert _grand_total(response.get_data(as_text=True)) == "$180.30"


@pytest.mark.parametrize(
    "method, path, headers",
    [
        ("get", "", {}),
        ("post", "/options", HX),
        ("post", "/options", {}),
    ],
)
def test_responses_vary_on_hx_request(client, opened, method, path, headers):
    response = getattr(client, method)(f"/p/proposals/{opened.proposal.id}{path}", headers=headers)
    assert "HX-Request" in response.headers.get("Vary", "")


def test_the_page_is_never_cached_by_shared_caches(client, opened):
    response = client.get(f"/p/proposals/{opened.proposal.id}")
    assert response.headers["Cache-Control"] == "no-store"


def test_the_page_runs_the_same_number_of_queries_for_5_and_50_lines(make, open_link, count_queries):
    counts = {}
    for n in (5, 50):
        delivered = make.delivered(
            included=[(f"Visit {i}", "1", "10.00") for i in range(n)],
            optional=[(f"Extra {i}", "1", "5.00") for i in range(n)],
        )
        client = make.app.test_client()
        assert open_link(client, delivered.token).status_code == 200
        render_cache(make.app).clear()  # count a real render, not a cache hit (1 statement)
        with count_queries() as counter:
            page = client.get(f"/p/proposals/{delivered.proposal.id}")
        assert page.status_code == 200
        assert page.get_data(as_text=True).count('name="option"') == n
        counts[n] = counter.count
    assert counts[5] == counts[50], counts
    # The access check with the stamp, the names and kept selection; the header, the lines.
    assert counts[5] == 3, counts


def test_the_signed_page_runs_the_same_number_of_queries_for_5_and_50_lines(make, open_link, count_queries):
    counts = {}
    for n in (5, 50):
        delivered = make.signed(
            make.delivered(
                included=[(f"Visit {i}", "1", "10.00") for i in range(n)],
                optional=[(f"Extra {i}", "1", "5.00") for i in range(n)],
            )
        )
        client = make.app.test_client()
        assert open_link(client, delivered.token).status_code == 200
        render_cache(make.app).clear()
        with count_queries() as counter:
            page = client.get(f"/p/proposals/{delivered.proposal.id}")
        assert "Signed by Cora Contact" in page.get_data(as_text=True)
        counts[n] = counter.count
    assert counts[5] == counts[50], counts
    assert counts[5] == 4, counts  # and the signature


def test_a_cache_hit_runs_only_the_access_check(make, open_link, count_queries):
    """The access check reads the page key's facts too (names, kept selection): one query."""
    delivered = make.delivered()
    client = make.app.test_client()
    assert open_link(client, delivered.token).status_code == 200
    with count_queries() as counter:
        page = client.get(f"/p/proposals/{delivered.proposal.id}")
    assert page.status_code == 200 and 'name="option"' in page.get_data(as_text=True)
    assert counter.count == 1, counter.statements


def test_a_signed_in_cache_hit_runs_only_the_access_check(make, portal_sign_in, count_queries):
    delivered = make.delivered()
    client = make.app.test_client()
    portal_sign_in(client, delivered.proposal.contact)
    assert client.get(f"/p/proposals/{delivered.proposal.id}").status_code == 200
    with count_queries() as counter:
        page = client.get(f"/p/proposals/{delivered.proposal.id}")
    assert page.status_code == 200 and 'name="option"' in page.get_data(as_text=True)
    assert counter.count == 1, counter.statements
