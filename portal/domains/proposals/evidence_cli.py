"""``flask evidence ...``: the seal key at setup, and a check of every chain."""

from __future__ import annotations

import hashlib

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from portal.core import sealing
from portal.core.extensions import db

evidence_commands = AppGroup("evidence", help="The evidence log and the certificates of signed proposals.")


@evidence_commands.command("create-seal-key")
def create_seal_key_command():
    """Make the instance's seal key and self-signed certificate, unless they exist."""
    business = current_app.config.get("BUSINESS_NAME") or "Porchlight"
    made = sealing.create_seal_key(f"{business} document seal", business)
    where = current_app.config["SEAL_CERT_PATH"]
    click.echo(f"{'Created' if made else 'Kept'} the seal key and certificate ({where}).")
    click.echo(f"Seal fingerprint: {sealing.identity().fingerprint}")


@evidence_commands.command("check")
@click.option("--seals/--no-seals", default=True, show_default=True, help="Also validate each stored PDF's seal.")
def check_command(seals: bool):
    """Recompute every evidence chain and certificate; exit 1 naming each damage."""
    from portal.domains.proposals.evidence import check_every_chain
    from portal.domains.proposals.evidence_models import Certificate
    from portal.domains.proposals.models import Proposal

    damaged = 0
    labels = {p.id: p.label for p in db.session.scalars(select(Proposal))}
    reports = check_every_chain()
    for report in reports:
        label = labels.get(report.proposal_id, f"#{report.proposal_id}")
        for problem in report.problems:
            damaged += 1
            click.echo(f"DAMAGED proposal {label} (id {report.proposal_id}): {problem}")
    for certificate in db.session.scalars(select(Certificate).order_by(Certificate.id)):
        label = labels.get(certificate.proposal_id, f"#{certificate.proposal_id}")
        if hashlib.sha256(certificate.pdf).hexdigest() != certificate.pdf_sha256:
            damaged += 1
            click.echo(
                f"DAMAGED certificate {certificate.public_id} of {label}: the stored PDF does not match its hash"
            )
        elif seals:
            try:
                check = sealing.validate(certificate.pdf)
            except Exception as exc:  # noqa: BLE001 - report any failure, keep checking the rest
                damaged += 1
                click.echo(f"DAMAGED certificate {certificate.public_id} of {label}: seal not readable ({exc})")
                continue
            if not check.intact:
                damaged += 1
                click.echo(f"DAMAGED certificate {certificate.public_id} of {label}: the seal does not validate")
    db.session.remove()
    click.echo(f"Checked {len(reports)} evidence chains: {'no damage' if not damaged else f'{damaged} problems'}.")
    if damaged:
        raise SystemExit(1)
