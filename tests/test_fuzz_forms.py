"""Property-based: no route answers 5xx, whatever a query string or form body holds.

Every rule of ``app.url_map`` is tried (portal routes as a contact who opened a real
link, admin routes as an admin), GET routes with query strings and POST routes with
form bodies. Keys are the fields of the feature's WTForms classes and the names its
views read from ``request.args``/``request.form``, plus random ones; values are random
text mixed with what an attacker tries first (huge integers, ``"²"``, ``"sNaN"``,
``"1e999"``, NUL bytes, deep brackets, long strings). ``<int:>`` path parameters get
real ids of the seeded demo data and integers past 64 bits.

``HYPOTHESIS_PROFILE=long`` runs many more examples per route (a local soak); the
default profile is derandomized, so CI sees the same examples every run.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import traceback

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from wtforms import Form
from wtforms.fields.core import UnboundField

from portal.core.extensions import db
from portal.demo import DEMO_PASSWORD, seed_demo

settings.register_profile(
    "ci",
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Ending the session mid-run would turn every later example into a redirect to sign in:
# these routes run last, once the others are done.
SESSION_ENDERS = {"admin.auth.logout", "sign_in.sign_out"}
HUGE = [str(2**63), str(2**64), "9" * 30, "-" + "9" * 30, str(2**63 - 1)]
NASTY = [
    "",
    " ",
    "0",
    "-0",
    "-1",
    "1",
    "2",
    "²",
    "١٢",
    "1_000",
    "sNaN",
    "NaN",
    "-sNaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "1e-999",
    "1E+999999999",
    "0.0000000000000000000000000001",
    "123456789012345678901234567890.5",
    "\x00",
    "a\x00b",
    "%00",
    "%",
    "\\",
    "'",
    '"',
    "<script>",
    "[" * 3000,
    "{" * 3000,
    "x" * 5000,
    "T-000001",
    "T-" + "9" * 30,
    "2026-13",
    "9999-99",
    "0000-01",
    "me",
    "unassigned",
    "breached",
    "priority",
    "response_due",
    "closed",
    "all",
    "eyJ4IjoxfQ",  # base64 of {"x":1}: a cursor of the wrong shape
    "WzAsOTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5XQ",  # [0,99999999999999999999999]
    "WyJhIiw5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTldXQ",  # ["a",9999999999999999999999999]
    "WzAsIjk5OTk5LTk5LTk5Il0",  # [0,"99999-99-99"]
]
# Each key gets each of these in one request per route (explicit examples, always run).
SWEEP = [str(2**64), "²", "sNaN", "1e999", "a\x00b", "-1", "[" * 3000]
VALUES = st.one_of(
    st.sampled_from(HUGE),
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


def _form_fields(module) -> set[str]:
    names: set[str] = set()
    for _name, obj in inspect.getmembers(module, inspect.isclass):
        if issubclass(obj, Form) and obj.__module__ == module.__name__:
            for attr in dir(obj):
                if isinstance(getattr(obj, attr, None), UnboundField):
                    names.add(attr)
    return names


_READ = re.compile(r"""(?:args|form|values)\.(?:get|getlist)\(\s*["']([a-z_]+)["']""")
_IN = re.compile(r"""["']([a-z_]+)["']\s+in\s+request\.(?:args|form)""")


def _keys_of(view_function) -> list[str]:
    """The form fields of the view's feature plus the names its module reads."""
    module = inspect.getmodule(view_function)
    keys: set[str] = set()
    if module is None:
        return []
    package = module.__name__.rsplit(".", 1)[0]
    try:
        keys |= _form_fields(importlib.import_module(f"{package}.forms"))
    except ModuleNotFoundError:
        pass
    source = inspect.getsource(module)
    keys |= set(_READ.findall(source)) | set(_IN.findall(source))
    for name in ("page", "after", "before", "q", "status", "option", "strokes", "signature_png"):
        keys.add(name)
    return sorted(keys)


def _bodies(keys: list[str]):
    """Each known key present or not, with any value (some as lists), plus random keys."""
    value = st.one_of(VALUES, st.lists(VALUES, min_size=2, max_size=3))
    known = st.fixed_dictionaries({}, optional={key: value for key in keys})
    extra = st.dictionaries(st.text(min_size=1, max_size=12), VALUES, max_size=2)
    return st.tuples(known, extra).map(lambda pair: {**pair[1], **pair[0]})


def _path_values(rule, ids: list[int]):
    parts = {}
    for name in rule._converters:
        if _is_int(rule, name):
            parts[name] = st.one_of(
                st.sampled_from(ids), st.sampled_from([0, 2**63 - 1, 2**63, 2**64, 10**30, 10**400])
            )
        elif name == "filename":
            parts[name] = st.sampled_from(["css/app.css", "../../etc/passwd", "x" * 300])
        else:
            parts[name] = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=60)
    return st.fixed_dictionaries(parts)


def _url(rule, values: dict) -> str:
    from urllib.parse import quote

    url = rule.rule
    for name, value in values.items():
        url = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", quote(str(value), safe=""), url)
    return url


def _seed(app) -> tuple[dict, list[int]]:
    from portal.domains.contracts.models import Contract, ContractLine
    from portal.domains.customers.models import Contact, Organization, Site
    from portal.domains.identity.models import StaffUser
    from portal.domains.proposals.models import Proposal, ProposalLine
    from portal.domains.sales.models import Opportunity, Stage
    from portal.domains.service_desk.models import Ticket

    with app.app_context():
        info = seed_demo()
        ids = set()
        for model in (
            Proposal,
            ProposalLine,
            Ticket,
            Organization,
            Contact,
            StaffUser,
            Opportunity,
            Stage,
            Contract,
            ContractLine,
            Site,
        ):
            ids |= set(db.session.scalars(select(model.id).limit(5)))
        db.session.remove()
    return info, sorted(ids)


def _admin(client, info):
    email, password = info["staff"][0]
    response = client.post("/admin/login", data={"email": email, "password": password or DEMO_PASSWORD})
    assert response.status_code == 303


def _contact(client, info):
    from urllib.parse import urlsplit

    response = client.get(urlsplit(info["portal_url"]).path)
    assert response.status_code == 303


def _signed_in(client, side: str) -> bool:
    path = "/admin/" if side == "admin" else "/home"
    location = client.get(path).headers.get("Location", "")
    return not any(word in location for word in ("login", "sign-in", "/l/"))


def _resign(client, side, sign_in, info) -> None:
    if not _signed_in(client, side):
        sign_in(client, info)


def _example(client, rule, method: str, ids: list[int], keys: list[str], after):
    """One route's property: any path values, body and htmx flag answer below 500."""

    real = {name: ids[0] if _is_int(rule, name) else "x" for name in rule.arguments}

    def explicit(test):
        for value in SWEEP:
            test = example(path={**real}, body={key: value for key in keys}, htmx=False)(test)
        return test

    @PROFILE
    @given(path=_path_values(rule, ids), body=_bodies(keys), htmx=st.booleans())
    @explicit
    def check(path, body, htmx):
        headers = {"HX-Request": "true"} if htmx else {}
        url = _url(rule, path)
        if method == "GET":
            response = client.get(url, query_string=body, headers=headers)
        else:
            response = client.post(url, data=body, headers=headers)
        response.close()  # as a WSGI server does: a file served (the favicon) is closed
        assert response.status_code < 500, f"{method} {url} {body!r} -> {response.status_code}"
        if method == "POST":
            after()

    return check


def _is_int(rule, name: str) -> bool:
    return type(rule._converters.get(name)).__name__ == "BoundedIntConverter"


def _where(error: BaseException) -> str:
    """The error and the last line of our code it passed through, for the failure list."""
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "/site-packages/" not in f.filename]
    at = f" at {os.path.relpath(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}{at}"


def _fuzz(app, side: str) -> None:
    info, ids = _seed(app)
    client = app.test_client()
    sign_in = _admin if side == "admin" else _contact
    sign_in(client, info)
    rules = [
        r
        for r in app.url_map.iter_rules()
        if (r.endpoint.startswith("admin.") == (side == "admin")) and r.endpoint != "static"
    ]
    rules.sort(key=lambda r: (r.endpoint in SESSION_ENDERS, r.endpoint))
    failures: list[str] = []
    covered = 0
    for rule in rules:
        keys = _keys_of(app.view_functions[rule.endpoint])
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            check = _example(client, rule, method, ids, keys, lambda: _resign(client, side, sign_in, info))
            try:
                check()
            except Exception as error:  # noqa: BLE001 (every route is tried; all failures are listed)
                failures.append(f"{rule.endpoint} {method}: {_where(error)}")
            covered += 1
    print(f"fuzzed {covered} route methods of {len(rules)} {side} routes")
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_no_admin_route_answers_5xx(app):
    _fuzz(app, "admin")


@pytest.mark.slow
def test_no_portal_route_answers_5xx(app):
    _fuzz(app, "portal")
