"""The ``flask`` commands: seed-demo, create-staff, outbox work, jobs run-due."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from portal.core.extensions import db
from portal.demo import DEMO_PASSWORD
from portal.domains.customers.models import Contact, Organization
from portal.domains.identity import staff as accounts
from portal.domains.identity.models import StaffUser
from portal.domains.proposals.models import CatalogItem, Proposal, Signature
from portal.mail.models import OutboxMessage, OutboxStatus
from tests.factories import outbox, queued_mail

PORTAL_LINK = re.compile(r"https://portal\.example\.test/l/([A-Za-z0-9_\-]+)")


def _counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (StaffUser, Organization, Contact, CatalogItem, Proposal, Signature, OutboxMessage)
        }


def test_seed_demo_prints_a_staff_login_url_and_a_working_portal_link(app, open_link, login):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Staff login:  https://portal.example.test/admin/login" in result.output
    assert f"sales@demo.porchlight / {DEMO_PASSWORD}" in result.output
    token = PORTAL_LINK.search(result.output).group(1)

    page = open_link(app.test_client(), token)
    assert page.status_code == 200
    assert "Grounds maintenance 2027" in page.get_data(as_text=True)
    assert 'name="signer_name"' in page.get_data(as_text=True)  # open for signature

    # the printed credentials work on the printed login page
    with app.app_context():
        sales = db.session.scalar(select(StaffUser).where(StaffUser.email == "sales@demo.porchlight"))
        db.session.expunge(sales)
    staff_client = app.test_client()
    login(staff_client, sales, password=DEMO_PASSWORD)
    assert staff_client.get("/admin/proposals/").status_code == 200


def test_seed_demo_twice_does_not_duplicate_data(app, open_link):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    after_first = _counts(app)
    assert after_first["StaffUser"] == 3 and after_first["Proposal"] == 5 and after_first["Signature"] == 1

    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert _counts(app) == after_first
    # each run prints a fresh link, and both work
    tokens = [PORTAL_LINK.search(r.output).group(1) for r in (first, second)]
    assert tokens[0] != tokens[1]
    for token in tokens:
        assert open_link(app.test_client(), token).status_code == 200


def test_outbox_work_once_without_smtp_says_mail_stays_in_the_outbox(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    queued = queued_mail(app)
    result = app.test_cli_runner().invoke(args=["outbox", "work", "--once"])
    assert result.exit_code == 0, result.output
    assert "No MAIL_SERVER configured" in result.output
    with app.app_context():
        assert db.session.get(OutboxMessage, queued.id).status == OutboxStatus.PENDING


def test_outbox_work_once_delivers_due_mail_and_exits(app, mail_server):
    queued = queued_mail(app, to_addr="cora@example.test")
    result = app.test_cli_runner().invoke(args=["outbox", "work", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent=1 retry=0 dead=0" in result.output
    assert [m["Message-ID"] for m in mail_server.messages] == [queued.message_id]
    with app.app_context():
        assert db.session.get(OutboxMessage, queued.id).status == OutboxStatus.SENT
    again = app.test_cli_runner().invoke(args=["outbox", "work", "--once"])
    assert "sent=0 retry=0 dead=0" in again.output
    assert len(mail_server.messages) == 1


def test_create_staff_creates_an_argon2_hashed_user(app):
    result = app.test_cli_runner().invoke(
        args=[
            "create-staff",
            "--email",
            "Nia.New@Example.test",
            "--name",
            "Nia New",
            "--role",
            "manager",
            "--password",
            "a long enough password",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created manager nia.new@example.test" in result.output
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == "nia.new@example.test"))
        assert (user.name, user.role, user.is_enabled) == ("Nia New", "manager", True)
        assert user.password_hash.startswith("$argon2id$")
        assert accounts.authenticate("nia.new@example.test", "a long enough password").id == user.id


def test_create_staff_prompts_for_the_password_twice(app):
    result = app.test_cli_runner().invoke(
        args=["create-staff", "--email", "pat@example.test", "--name", "Pat", "--role", "sales"],
        input="a long enough password\na long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "a long enough password" not in result.output  # the prompt hides what is typed
    with app.app_context():
        assert accounts.authenticate("pat@example.test", "a long enough password") is not None


def test_create_staff_refuses_a_short_password_and_a_duplicate_email(app, make):
    existing = make.staff(email="taken@example.test")
    runner = app.test_cli_runner()
    short = runner.invoke(args=["create-staff", "--email", "new@example.test", "--name", "N", "--password", "short"])
    assert short.exit_code != 0
    assert "Use at least 10 characters" in short.output
    duplicate = runner.invoke(
        args=["create-staff", "--email", existing.email, "--name", "N", "--password", "a long enough password"]
    )
    assert duplicate.exit_code != 0
    assert "already exists" in duplicate.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffUser)) == 1


def test_seed_demo_makes_issue_types_sites_and_tickets_once(app):
    from portal.domains.customers.models import Site
    from portal.domains.service_desk.models import IssueType, MessageKind, Ticket, TicketMessage, TicketState

    def counts():
        with app.app_context():
            return {
                model.__name__: db.session.scalar(select(func.count()).select_from(model))
                for model in (IssueType, Site, Ticket, TicketMessage)
            }

    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    first = counts()
    # Sites: Greenleaf's two of the ticket demo, and three more properties of the
    # contracts demo (portal/demo_contracts.py).
    assert (first["IssueType"], first["Site"], first["Ticket"]) == (7, 5, 5)
    with app.app_context():
        states = sorted(db.session.scalars(select(Ticket.state)))
        assert states == sorted([TicketState.OPEN] * 3 + [TicketState.WAITING, TicketState.CLOSED])
        assert db.session.scalar(select(func.count()).where(TicketMessage.kind == MessageKind.NOTE)) == 1
        assert db.session.scalar(select(func.count()).where(Ticket.assignee_id.is_not(None))) == 3
        assert db.session.scalar(select(func.count()).where(Ticket.first_response_at.is_not(None))) == 3
        subs = db.session.scalars(select(IssueType.name).where(IssueType.parent_id.is_not(None))).all()
        assert sorted(subs) == ["Controller", "Damage", "Leak", "Missed visit"]
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert counts() == first


def test_jobs_run_due_flags_sla_breaches_once_and_prints_the_counts(app, make):
    from datetime import datetime

    from portal.domains.service_desk.models import Ticket
    from tests.factories import stored

    manager = make.staff(role="sales")
    organization = make.organization_with(
        sla_id=make.sla(targets={"normal": (60, 480)}).id, account_manager_id=manager.id
    )
    ticket = make.ticket(make.contact(organization), now=datetime(2026, 3, 9, 9, 0))  # a Monday: due 10:00
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run-due", "--now", "2026-03-09T12:00"])
    assert result.exit_code == 0, result.output
    assert "first_response_breaches=1 resolution_breaches=0 mails=1" in result.output
    again = runner.invoke(args=["jobs", "run-due", "--now", "2026-03-09T12:00"])
    assert again.exit_code == 0, again.output
    assert "first_response_breaches=0 resolution_breaches=0 mails=0" in again.output
    assert stored(app, Ticket, ticket.id).first_response_breached_at == datetime(2026, 3, 9, 12, 0)
    assert [m["to_addr"] for m in outbox(app) if m["kind"] == "ticket_breached"] == [manager.email]


def test_worker_once_runs_queued_jobs_the_schedule_and_mail_then_exits(app, make, mail_server):
    """One command runs it all: a queued job, the periodic SLA breach job, mail."""
    from datetime import datetime

    from portal.domains.service_desk.models import Ticket
    from portal.jobs import enqueue
    from portal.jobs.models import Job, JobStatus
    from portal.mail.models import OutboxMessage
    from tests.factories import stored

    manager = make.staff(role="sales")
    organization = make.organization_with(
        sla_id=make.sla(targets={"normal": (60, 480)}).id, account_manager_id=manager.id
    )
    ticket = make.ticket(make.contact(organization), now=datetime(2020, 3, 9, 9, 0))  # long overdue
    with app.app_context():
        enqueue("mail.deliver", key="by-hand")
        db.session.commit()
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert stored(app, Ticket, ticket.id).first_response_breached_at is not None
    with app.app_context():
        jobs = {job.name: job.status for job in db.session.scalars(select(Job))}
        breach_mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "ticket_breached"))
        db.session.remove()
    assert jobs["mail.deliver"] == JobStatus.DONE
    assert jobs["service_desk.flag_breaches"] == JobStatus.DONE
    assert breach_mail.status == OutboxStatus.SENT  # queued by the job, sent in the same pass
    breaches = [m["Subject"] for m in mail_server.messages if m["Subject"].startswith("SLA breached")]
    assert breaches and {m["To"] for m in mail_server.messages if m["Subject"] in breaches} == {manager.email}
    again = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert again.exit_code == 0, again.output
    assert [m["Subject"] for m in mail_server.messages if m["Subject"].startswith("SLA breached")] == breaches


def test_outbox_work_is_an_alias_of_the_worker(app, mail_server):
    from portal.jobs import enqueue
    from portal.jobs.models import Job, JobStatus

    with app.app_context():
        enqueue("mail.deliver", key="alias")
        db.session.commit()
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["outbox", "work", "--once"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(Job.status).where(Job.key == "alias")) == JobStatus.DONE
