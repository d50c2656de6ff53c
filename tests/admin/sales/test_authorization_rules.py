"""The authorization matrix of the assignment rules, absences, calendar feed and the
opportunity page's follow-up, activity and assignment sections.

- rules and teams: admins everything; managers read the list; sales and technicians 404;
- availability: admins and managers see everyone's and edit any absence; everyone
  opens and edits their own; anyone else's is a 404;
- the calendar feed: only its owner issues or revokes it (even an admin gets a 404 on
  someone else's); the feed URL itself is public, its token checked (404 otherwise);
- the opportunity sections: whoever may work the opportunity (not technicians, not
  sales who do not see it); 404 for the others, without naming it.

``CLASSIFIED`` tells ``tests/test_authorization_matrix.py`` these routes are covered.
"""

from __future__ import annotations

from datetime import date

from flask import url_for

from portal.core.extensions import db
from portal.domains.identity.models import StaffUser
from portal.domains.sales import followups
from portal.domains.sales.models_rules import AssignmentRule, SalesTeam, StaffAbsence
from tests.factories import add_to_team
from tests.sales_factories import make_opportunity

ROLES = ("admin", "manager", "sales", "technician")

# endpoint -> (method, who may: "admin" | "see_all" | "self_or_see_all" | "self" | "work" | "public")
ROUTES = {
    "admin.sales_rules.index": ("GET", "see_all"),
    "admin.sales_rules.new_rule": (("GET", "POST"), "admin"),
    "admin.sales_rules.edit_rule": (("GET", "POST"), "admin"),
    "admin.sales_rules.move_rule": ("POST", "admin"),
    "admin.sales_rules.new_team": (("GET", "POST"), "admin"),
    "admin.sales_rules.edit_team": (("GET", "POST"), "admin"),
    "admin.sales_rules.delete_rule": ("POST", "admin"),
    "admin.sales_people.index": ("GET", "see_all"),
    "admin.sales_people.me": ("GET", "anyone"),
    "admin.sales_people.show": ("GET", "self_or_see_all"),
    "admin.sales_people.add_absence": ("POST", "self_or_see_all"),
    "admin.sales_people.delete_absence": ("POST", "self_or_see_all"),
    "admin.sales_people.issue_feed": ("POST", "self"),
    "admin.sales_people.revoke_feed": ("POST", "self"),
    "admin.sales_people.calendar_feed": ("GET", "public"),
    "admin.sales_followup.set_follow_up": ("POST", "work"),
    "admin.sales_followup.clear_follow_up": ("POST", "work"),
    "admin.sales_followup.log_activity": ("POST", "work"),
    "admin.sales_followup.auto_assign": ("POST", "work"),
    "admin.sales_followup.reopen": ("POST", "work"),
}


def _methods(spec) -> tuple[str, ...]:
    return (spec,) if isinstance(spec, str) else spec


CLASSIFIED = {(endpoint, method) for endpoint, (methods, _who) in ROUTES.items() for method in _methods(methods)}

# What an allowed actor gets with empty data: (status, an id in the body or a path the redirect goes to)
ALLOWED = {
    ("admin.sales_rules.index", "GET"): (200, "rules"),
    ("admin.sales_rules.new_rule", "GET"): (200, "rule-form"),
    ("admin.sales_rules.new_rule", "POST"): (422, "rule-form"),
    ("admin.sales_rules.edit_rule", "GET"): (200, "rule-form"),
    ("admin.sales_rules.edit_rule", "POST"): (422, "rule-form"),
    ("admin.sales_rules.move_rule", "POST"): (400, None),  # no direction given
    ("admin.sales_rules.new_team", "GET"): (200, "team-form"),
    ("admin.sales_rules.new_team", "POST"): (422, "team-form"),
    ("admin.sales_rules.edit_team", "GET"): (200, "team-form"),
    ("admin.sales_rules.edit_team", "POST"): (422, "team-form"),
    ("admin.sales_rules.delete_rule", "POST"): (303, "/admin/sales/rules/"),
    ("admin.sales_people.index", "GET"): (200, "people"),
    ("admin.sales_people.me", "GET"): (302, "/admin/sales/people/{self}"),
    ("admin.sales_people.show", "GET"): (200, "absences"),
    ("admin.sales_people.add_absence", "POST"): (422, "absence-form"),
    ("admin.sales_people.delete_absence", "POST"): (303, "/admin/sales/people/{person}"),
    ("admin.sales_people.issue_feed", "POST"): (200, "feed-url"),
    ("admin.sales_people.revoke_feed", "POST"): (303, "/admin/sales/people/{person}"),
    ("admin.sales_followup.set_follow_up", "POST"): (422, "followup-form"),
    ("admin.sales_followup.clear_follow_up", "POST"): (303, "/admin/sales/opportunities/{opportunity}"),
    ("admin.sales_followup.log_activity", "POST"): (422, "activity-form"),
    ("admin.sales_followup.auto_assign", "POST"): (303, "/admin/sales/opportunities/{opportunity}"),
    ("admin.sales_followup.reopen", "POST"): (409, None),  # not closed for no reply
}


def _may(who: str, role: str, is_self: bool, sees_opportunity: bool) -> bool:
    return {
        "admin": role == "admin",
        "see_all": role in ("admin", "manager"),
        "anyone": True,
        "self_or_see_all": is_self or role in ("admin", "manager"),
        "self": is_self,
        "work": sees_opportunity and role != "technician",
    }[who]


def _problem(response, expected, values) -> str | None:
    status, shows = expected
    if response.status_code != status:
        return f"status {response.status_code}, expected {status}"
    if shows and shows.startswith("/"):
        location = response.headers.get("Location", "")
        target = shows.format(**values)
        if not location.endswith(target):
            return f"went to {location!r}, expected {target!r}"
    elif shows and f'id="{shows}"'.encode() not in response.get_data():
        return f"no #{shows}"
    return None


def _fixtures(app, make, user, colleague):
    """Objects the URLs name: a rule and a team, absences of the user and a colleague,
    and opportunities of a customer whose team includes the user and of one that does not."""
    team_org = make.organization("Team Customer")
    other_org = make.organization("Other Customer")
    add_to_team(app, team_org, user)
    owner = make.staff(role="manager")
    seen = make_opportunity(app, owner, team_org, title="Seen opportunity", rep_id=owner.id)
    unseen = make_opportunity(app, owner, other_org, title="Hidden opportunity", rep_id=owner.id)
    with app.app_context():
        team = SalesTeam(name=f"Team of {user.id}")
        db.session.add(team)
        db.session.flush()
        rule = AssignmentRule(name="Matrix rule", position=1, rep_id=owner.id)
        mine = StaffAbsence(staff_id=user.id, starts_on=date(2030, 1, 1), ends_on=date(2030, 1, 2))
        theirs = StaffAbsence(staff_id=colleague.id, starts_on=date(2030, 1, 1), ends_on=date(2030, 1, 2))
        db.session.add_all([rule, mine, theirs])
        db.session.commit()
        return {
            "rule": rule.id,
            "team": team.id,
            "mine": mine.id,
            "theirs": theirs.id,
            "seen": seen.id,
            "unseen": unseen.id,
        }


def _cases(ids, user, colleague, role):
    """(endpoint, URL values, is_self, sees_opportunity, values for the expectation)."""
    person = {"self": user.id, "person": user.id}
    yield "admin.sales_rules.index", {}, False, False, {}
    yield "admin.sales_rules.new_rule", {}, False, False, {}
    yield "admin.sales_rules.edit_rule", {"rule_id": ids["rule"]}, False, False, {}
    yield "admin.sales_rules.move_rule", {"rule_id": ids["rule"]}, False, False, {}
    yield "admin.sales_rules.new_team", {}, False, False, {}
    yield "admin.sales_rules.edit_team", {"team_id": ids["team"]}, False, False, {}
    yield "admin.sales_people.index", {}, False, False, {}
    yield "admin.sales_people.me", {}, True, False, person
    for staff_id, is_self, absence in ((user.id, True, ids["mine"]), (colleague.id, False, ids["theirs"])):
        values = {"self": user.id, "person": staff_id}
        yield "admin.sales_people.show", {"staff_id": staff_id}, is_self, False, values
        yield "admin.sales_people.add_absence", {"staff_id": staff_id}, is_self, False, values
        yield "admin.sales_people.issue_feed", {"staff_id": staff_id}, is_self, False, values
        yield "admin.sales_people.revoke_feed", {"staff_id": staff_id}, is_self, False, values
        yield "admin.sales_people.delete_absence", {"absence_id": absence}, is_self, False, values
    # The "seen" customer's account team includes the user; admins and managers see all.
    for key, sees in (("seen", True), ("unseen", role in ("admin", "manager"))):
        values = {"opportunity": ids[key]}
        for endpoint in (
            "admin.sales_followup.set_follow_up",
            "admin.sales_followup.clear_follow_up",
            "admin.sales_followup.log_activity",
            "admin.sales_followup.reopen",
            "admin.sales_followup.auto_assign",
        ):
            yield endpoint, {"opportunity_id": ids[key]}, False, sees, values
    yield "admin.sales_rules.delete_rule", {"rule_id": ids["rule"]}, False, False, {}


def test_sales_rules_matrix(app, make, login, capsys):
    cases = 0
    failures = []
    for role in ROLES:
        user = make.staff(role=role)
        colleague = make.staff(role="sales")
        ids = _fixtures(app, make, user, colleague)
        client = app.test_client()
        login(client, user)
        for endpoint, args, is_self, sees, values in _cases(ids, user, colleague, role):
            methods, who = ROUTES[endpoint]
            allowed = _may(who, role, is_self, sees)
            with app.test_request_context():
                path = url_for(endpoint, **args)
            for method in _methods(methods):
                response = client.get(path) if method == "GET" else client.post(path, data={})
                cases += 1
                if allowed:
                    problem = _problem(response, ALLOWED[(endpoint, method)], values)
                else:
                    problem = None if response.status_code == 404 else f"status {response.status_code}, expected 404"
                    if b"Hidden opportunity" in response.get_data():
                        problem = "the 404 names the opportunity"
                if problem:
                    failures.append((role, endpoint, method, args, problem))
    with capsys.disabled():
        print(f"\nsales rules authorization matrix: {cases} (route, actor, object) cases")
    assert not failures, failures


def test_the_calendar_feed_is_public_with_its_token_only(app, make, client):
    owner = make.staff()
    with app.app_context():
        token = followups.issue_feed_token(db.session.get(StaffUser, owner.id))
        db.session.commit()
    response = client.get(f"/admin/sales/people/feed/{token}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert b"BEGIN:VCALENDAR" in response.get_data()
    assert client.get(f"/admin/sales/people/feed/{token[:-2]}xx.ics").status_code == 404
    assert client.get("/admin/sales/people/feed/nothing.ics").status_code == 404
    with app.app_context():
        followups.revoke_feed(db.session.get(StaffUser, owner.id))
        db.session.commit()
    assert client.get(f"/admin/sales/people/feed/{token}.ics").status_code == 404


def test_a_disabled_owners_feed_is_gone(app, make, client):
    owner = make.staff()
    with app.app_context():
        person = db.session.get(StaffUser, owner.id)
        token = followups.issue_feed_token(person)
        person.is_enabled = False
        db.session.commit()
    assert client.get(f"/admin/sales/people/feed/{token}.ics").status_code == 404


def test_the_calendar_feed_is_rate_limited(rate_limited_app, make):
    from admin.sales.people.views import FEED_LIMIT

    owner = make.staff()
    with rate_limited_app.app_context():
        token = followups.issue_feed_token(db.session.get(StaffUser, owner.id))
        db.session.commit()
    client = rate_limited_app.test_client()
    allowed = int(FEED_LIMIT.split()[0])
    codes = [client.get(f"/admin/sales/people/feed/{token}.ics").status_code for _ in range(allowed + 1)]
    assert codes[:allowed] == [200] * allowed and codes[-1] == 429
    # Guessing tokens is limited the same way (per address, whatever the token).
    assert client.get("/admin/sales/people/feed/guess.ics").status_code == 429
