"""The ``flask`` commands: seed-demo, create-staff, worker (and its alias outbox work), jobs run-due."""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager

import click
from flask import Flask
from flask.cli import AppGroup

from portal.core.extensions import db


def init_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create demo staff, organizations, a catalog and proposals; print links."""
        from portal.demo import seed_demo

        info = seed_demo()
        click.echo("")
        click.echo("Porchlight demo is ready.")
        click.echo(f"  Staff login:  {info['login_url']}")
        for email, password in info["staff"]:
            click.echo(f"                {email} / {password}")
        if info["portal_url"]:
            click.echo(f"  Customer portal ({info['portal_contact']}), a delivered proposal:")
            click.echo(f"                {info['portal_url']}")
        click.echo(f"  Customer sign-in (link and code by mail): {info['sign_in_url']}")
        click.echo("  Mail is kept on the admin Outbox page (no SMTP configured).")
        click.echo("")

    @app.cli.command("create-staff")
    @click.option("--email", prompt=True)
    @click.option("--name", prompt=True)
    @click.option(
        "--role", type=click.Choice(["admin", "manager", "sales", "technician"]), default="sales", show_default=True
    )
    @click.password_option()
    def create_staff_command(email: str, name: str, role: str, password: str):
        """Create a staff account."""
        from portal.core.errors import InvalidInput
        from portal.domains.identity.staff import create_staff

        try:
            user = create_staff(email, name, password, role=role)
        except InvalidInput as error:
            raise click.ClickException(str(error)) from error
        db.session.commit()
        click.echo(f"Created {user.role} {user.email}")

    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Do everything due (jobs and mail), then exit.")
    @click.option("--idle", default=2.0, show_default=True, help="Seconds to wait when nothing is due.")
    def worker_command(once: bool, idle: float):
        """The one background worker: scheduled jobs, queued jobs and mail delivery.

        Run as many as you like, on as many machines: jobs and mail are claimed per row
        with a lease. Ctrl+C or SIGTERM lets the current job finish, then stops."""
        _run_worker(once, idle)

    outbox = AppGroup("outbox", help="Deliver queued mail.")

    @outbox.command("work")
    @click.option("--once", is_flag=True, help="Deliver all due mail (and due jobs), then exit.")
    @click.option("--interval", default=2.0, show_default=True, help="Seconds to wait when nothing is due.")
    @click.option("--batch", default=50, show_default=True, help="Kept for old scripts: a pass takes all that is due.")
    def work_command(once: bool, interval: float, batch: int):
        """The same worker as ``flask worker`` (kept as an alias)."""
        _run_worker(once, interval)

    app.cli.add_command(outbox)

    jobs = AppGroup("jobs", help="Scheduled work (run from cron or any scheduler).")

    @jobs.command("run-due")
    @click.option(
        "--now",
        "now",
        type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]),
        default=None,
        help="Act as if it were this UTC time (tests, catching up).",
    )
    @click.option("--batch", default=200, show_default=True, help="Tickets per transaction.")
    def run_due_command(now, batch: int):
        """Flag SLA breaches and mail the assignee and account manager, once per breach."""
        from portal.domains.service_desk.jobs import flag_breaches

        report = flag_breaches(now, batch=batch)
        db.session.remove()
        click.echo(f"SLA breaches: {report}")

    app.cli.add_command(jobs)

    from portal.domains.proposals.evidence_cli import evidence_commands

    app.cli.add_command(evidence_commands)


def load_jobs() -> None:
    """Import every module that declares jobs, so the worker knows their handlers."""
    from portal.domains.campaigns import jobs as _campaigns  # noqa: F401
    from portal.domains.contracts import jobs as _contracts  # noqa: F401
    from portal.domains.proposals import certificates as _certificates  # noqa: F401
    from portal.domains.sales import jobs as _sales  # noqa: F401
    from portal.domains.service_desk import jobs as _service_desk  # noqa: F401
    from portal.jobs import worker as _builtin  # noqa: F401


def _run_worker(once: bool, idle: float) -> None:
    from portal.jobs.worker import work
    from portal.mail.outbox import smtp_configured

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    load_jobs()
    if not smtp_configured():
        click.echo("No MAIL_SERVER configured: mail stays in the outbox (see /admin/outbox).")
    stop = threading.Event()
    with _stop_on_signals(stop):
        work(once=once, idle=idle, stop=stop, echo=click.echo)


@contextmanager
def _stop_on_signals(stop: threading.Event):
    """SIGINT/SIGTERM set ``stop``: the job in hand finishes, then the worker exits."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_args: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
