"""Property-based: no campaign route answers 5xx, whatever its query string or form
body holds (the screen's filters, Run, the page's state filter and cursor, Run again,
Deliver all). Values are ``tests/test_fuzz_forms.py``'s: huge integers, "²", "sNaN",
NUL bytes, long strings, dates out of range."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.campaign_factories import customer, make_contract, make_property, start, work_off
from tests.test_fuzz_forms import HUGE, NASTY

KEYS = [
    "service_id",
    "zone",
    "organization_id",
    "include_sub_organizations",
    "rep_id",
    "ends_from",
    "ends_to",
    "name",
    "after",
    "before",
    "state",
    "run",
]
DATES = ["2027-01-01", "1900-01-01", "9999-12-31", "2027-02-30", "0001-01-01", "20270101"]
VALUES = st.one_of(
    st.sampled_from(HUGE + NASTY + DATES + ["1", "2", "skipped", "won", "no_reply", "y"]),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
BODIES = st.dictionaries(st.sampled_from(KEYS), st.one_of(VALUES, st.lists(VALUES, min_size=2, max_size=3)))
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _routes(campaign_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", "/admin/campaigns/"),
        ("GET", "/admin/campaigns/new"),
        ("POST", "/admin/campaigns/new"),
        ("GET", f"/admin/campaigns/{campaign_id}"),
        ("GET", f"/admin/campaigns/{campaign_id}/progress"),
        ("POST", f"/admin/campaigns/{campaign_id}/rerun"),
        ("POST", f"/admin/campaigns/{campaign_id}/deliver"),
    ]


def _checker(client, method: str, path: str):
    @FUZZ
    @given(body=BODIES, htmx=st.booleans())
    def check(body, htmx):
        headers = {"HX-Request": "true"} if htmx else {}
        if method == "GET":
            response = client.get(path, query_string=body, headers=headers)
        else:
            response = client.post(path, data=body, headers=headers)
        assert response.status_code < 500, (method, path, body, response.status_code)

    return check


def test_no_campaign_route_answers_5xx(app, make, login):
    admin = make.staff(role="admin")
    service = make.catalog_item("Aeration", "100.00")
    org = customer(app, make, "Fuzz Customer", zone="North")
    make_contract(app, org, make_property(app, org), service.id)
    campaign_id = start(app, admin.id, service.id, name="Fuzzed")
    work_off(app)
    client = app.test_client()
    login(client, admin)
    failures = []
    for method, path in _routes(campaign_id):
        try:
            _checker(client, method, path)()
        except AssertionError as error:
            failures.append(str(error)[:500])
    assert not failures, failures
