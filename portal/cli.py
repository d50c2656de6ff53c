"""The ``flask`` commands: seed-demo, create-staff, outbox work, jobs run-due."""

from __future__ import annotations

import time

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

    outbox = AppGroup("outbox", help="Deliver queued mail.")

    @outbox.command("work")
    @click.option("--once", is_flag=True, help="One pass over due mail, then exit.")
    @click.option("--interval", default=5.0, show_default=True, help="Seconds between passes.")
    @click.option("--batch", default=50, show_default=True)
    def work_command(once: bool, interval: float, batch: int):
        """Deliver due mail with retries and backoff (run as many workers as you like)."""
        from portal.mail.outbox import deliver_due, smtp_configured

        if not smtp_configured():
            click.echo("No MAIL_SERVER configured: mail stays in the outbox (see /admin/outbox).")
            if once:
                return
        while True:
            report = deliver_due(limit=None if once else batch)  # --once: all that is due
            db.session.remove()
            if report.handled or once:
                click.echo(f"sent={report.sent} retry={report.retried} dead={report.dead}")
            if once:
                return
            if report.handled < batch:
                time.sleep(interval)

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
