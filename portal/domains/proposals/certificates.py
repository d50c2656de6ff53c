"""The certificate of a signed proposal: built once, sealed once, kept, verifiable.

After a signature commits, the worker runs ``proposals.certificate``: it renders the
proposal as signed (lines, the options chosen, totals, terms, the signature image and
typed name) and an audit page of the evidence chain through the one PDF renderer
(``portal.core.pdf``), in the signer's language with English beside it; seals it with
the instance's key (PAdES, ``portal.core.sealing``); stores the sealed bytes with
their SHA-256, the chain's count and head at that moment, and a public id; and mails
the contact a portal link to the proposal page, where the certificate is downloaded.

``lookup_upload`` and ``lookup_id`` answer the public verify page. An upload is only
hashed and searched for our ASCII marker (the PDF's Keywords); it is never parsed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.numbers import format_currency, format_decimal
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core import pdf as renderer
from portal.core import sealing
from portal.core.extensions import db
from portal.core.urls import external_url
from portal.domains.identity import links
from portal.domains.proposals import evidence
from portal.domains.proposals.evidence_models import Certificate, EvidenceEntry
from portal.domains.proposals.models import Proposal, Signature
from portal.jobs.registry import job
from portal.mail.outbox import queue_mail

MARKER = re.compile(rb"porchlight-certificate:(PC(?:-[A-Z2-7]{4}){4}) porchlight-instance:([0-9a-f]{64})")
ID_PATTERN = re.compile(r"PC(?:-[A-Z2-7]{4}){4}")


def new_public_id() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode()
    return "PC-" + "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def normalise_id(text: str) -> str | None:
    """A typed certificate id in its canonical form, or None if it cannot be one."""
    compact = re.sub(r"[\s\-]", "", (text or "")[:200]).upper()
    if not re.fullmatch(r"PC[A-Z2-7]{16}", compact):
        return None
    body = compact[2:]
    return "PC-" + "-".join(body[i : i + 4] for i in range(0, 16, 4))


def certificate_of(proposal_id: int) -> Certificate | None:
    return db.session.scalar(select(Certificate).where(Certificate.proposal_id == proposal_id))


# --- the document ----------------------------------------------------------------

EVENT_LABELS = {
    evidence.Kind.DELIVERED: _l("Delivered for signature"),
    evidence.Kind.MAIL_SENT: _l("Email sent"),
    evidence.Kind.LINK_OPENED: _l("Portal link opened"),
    evidence.Kind.PAGE_VIEWED: _l("Proposal page viewed"),
    evidence.Kind.OPTION_TICKED: _l("Option ticked"),
    evidence.Kind.OPTION_UNTICKED: _l("Option unticked"),
    evidence.Kind.CONSENT_GIVEN: _l("Consent to sign electronically"),
    evidence.Kind.SIGNED: _l("Signed"),
    evidence.Kind.WON: _l("Marked won by staff"),
    evidence.Kind.LOST: _l("Marked lost by staff"),
    evidence.Kind.NEW_REVISION: _l("New revision made"),
    evidence.Kind.CERTIFICATE_ISSUED: _l("Certificate issued"),
}


def _text(message, locale: str) -> str:
    with force_locale(locale):
        return str(message)


def _both(message, locale: str) -> str:
    """The signer's language, then English ("Semnătura / Signature"); English alone
    when they are the same."""
    english = _text(message, "en")
    local = _text(message, locale) if locale != "en" else english
    return english if local == english else f"{local} / {english}"


def _zone(name: str | None):
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _moment(value: datetime, zone_name: str | None) -> str:
    """UTC, and the local time with the zone named: "2026-12-01 12:03:05 UTC
    (14:03:05 Europe/Bucharest, UTC+02:00)"."""
    aware = value.replace(tzinfo=UTC)
    text = aware.strftime("%Y-%m-%d %H:%M:%S UTC")
    zone = _zone(zone_name)
    if str(zone) != "UTC":
        local = aware.astimezone(zone)
        offset = local.strftime("%z")
        text += f" ({local.strftime('%Y-%m-%d %H:%M:%S')} {zone}, UTC{offset[:3]}:{offset[3:]})"
    return text


@dataclass(frozen=True)
class Signing:
    """What the chain says about the signing: the signer's language and zone."""

    locale: str
    time_zone: str
    consent_text: str
    consent_sha256: str


def _signing_facts(entries: list[EvidenceEntry]) -> Signing:
    locale, zone, text, digest = "en", "UTC", "", ""
    for entry in entries:
        data = json.loads(entry.data or "{}")
        if entry.kind == evidence.Kind.CONSENT_GIVEN:
            text, digest = data.get("text", ""), data.get("text_sha256", "")
        if entry.kind == evidence.Kind.SIGNED:
            locale, zone = data.get("locale") or "en", entry.time_zone
    return Signing(locale, zone, text, digest)


def build_document(
    proposal: Proposal, signature: Signature, entries: list[EvidenceEntry], public_id: str, fingerprint: str
) -> renderer.Document:
    """The certificate's blocks: the signed proposal, the signature, the audit page."""
    signing = _signing_facts(entries)
    locale = signing.locale
    both = lambda message: _both(message, locale)  # noqa: E731
    money = lambda amount: format_currency(amount, signature.currency, locale=locale)  # noqa: E731
    selected = set(json.loads(signature.selected_line_ids))
    business = current_app.config.get("BUSINESS_NAME") or "Porchlight"

    rows = []
    included_total = 0
    for line in proposal.lines:
        if line.is_optional:
            choice = both(_l("Chosen")) if line.id in selected else both(_l("Not chosen"))
        else:
            choice = both(_l("Included"))
        if not line.is_optional or line.id in selected:
            included_total += line.amount
        rows.append(
            [
                line.description,
                format_decimal(line.quantity.normalize(), locale=locale),
                money(line.unit_price),
                money(line.amount),
                choice,
            ]
        )
    blocks: list = [
        renderer.Heading(both(_l("Certificate of electronic signature"))),
        renderer.Fields(
            [
                (both(_l("Certificate")), public_id),
                (both(_l("Proposal")), f"{proposal.label}: {proposal.title}"),
                (both(_l("Revision")), str(proposal.revision)),
                (both(_l("Customer")), proposal.organization.name),
                (both(_l("Signed by")), signature.signer_name),
                (both(_l("Signed at")), _moment(signature.signed_at, signing.time_zone)),
                (both(_l("Signed total")), money(signature.signed_total)),
                (both(_l("SHA-256 of the signed content")), signature.content_hash),
            ]
        ),
        renderer.Heading(both(_l("The proposal as signed")), level=2),
        renderer.Table(
            headers=[
                both(_l("Description")),
                both(_l("Quantity")),
                both(_l("Unit price")),
                both(_l("Amount")),
                both(_l("Option")),
            ],
            rows=rows,
            widths=[60, 18, 28, 28, 46],
            align=["L", "R", "R", "R", "L"],
        ),
        renderer.Fields([(both(_l("Signed total")), money(signature.signed_total))]),
    ]
    if proposal.terms:
        blocks += [renderer.Heading(both(_l("Terms")), level=2), renderer.Paragraph(proposal.terms)]
    blocks += [
        renderer.Heading(both(_l("Consent")), level=2),
        renderer.Paragraph(signing.consent_text or "-"),
        renderer.Paragraph(
            f"{both(_l('SHA-256 of the consent text as shown'))}: {signing.consent_sha256}", size=8, muted=True
        ),
        renderer.Heading(both(_l("Signature")), level=2),
        renderer.Image(signature.image_png, width=70, caption=signature.signer_name),
        renderer.PageBreak(),
        renderer.Heading(both(_l("Audit trail")), level=2),
        renderer.Paragraph(
            both(
                _l(
                    "Every event of this proposal, in order, from its append-only evidence log. "
                    "Each entry carries the hash of the one before it."
                )
            ),
            size=8.5,
        ),
        renderer.Table(
            headers=[
                "#",
                both(_l("Time")),
                both(_l("Event")),
                both(_l("Address and browser")),
                both(_l("Entry hash")),
            ],
            rows=[_audit_row(entry, locale) for entry in entries],
            widths=[7, 45, 42, 56, 30],
            size=7,
        ),
        renderer.Fields(
            [
                (both(_l("Entries")), str(len(entries))),
                (both(_l("Last entry's hash")), entries[-1].entry_hash if entries else evidence.GENESIS),
                (both(_l("Sealed by")), f"{business} ({fingerprint[:16]})"),
            ]
        ),
        renderer.Paragraph(
            both(_l("Check this certificate at %(url)s", url=external_url("verify.index"))), size=8.5, muted=True
        ),
    ]
    return renderer.Document(
        title=f"{_text(_l('Certificate of electronic signature'), 'en')} {proposal.label}",
        issuer=business,
        blocks=blocks,
        footer=f"{public_id} · {proposal.label}",
        subject=proposal.title,
        keywords=f"porchlight-certificate:{public_id} porchlight-instance:{fingerprint}",
        language=locale,
    )


def _audit_row(entry: EvidenceEntry, locale: str) -> list[str]:
    label = EVENT_LABELS.get(entry.kind)
    event = _both(label, locale) if label is not None else entry.kind
    data = json.loads(entry.data or "{}")
    detail = data.get("description") or data.get("to") or data.get("message_id") or ""
    if detail:
        event = f"{event}: {detail}"
    who = " · ".join(part for part in (entry.ip, (entry.user_agent or "")[:80]) if part) or "-"
    if entry.link_id:
        who += f" · link {entry.link_id}"
    return [str(entry.seq), _moment(entry.occurred_at, entry.time_zone), event, who, entry.entry_hash[:16] + "…"]


# --- issuing ---------------------------------------------------------------------


def issue_certificate(proposal_id: int) -> Certificate | None:
    """Build, seal and store the certificate of a signed proposal (once; a second call
    returns the first). Flushes; the caller commits."""
    existing = certificate_of(proposal_id)
    if existing is not None:
        return existing
    from portal.domains.proposals.operations import load_proposal

    proposal = load_proposal(proposal_id)
    if proposal is None or proposal.signature is None:
        return None
    signature = proposal.signature
    entries = evidence.entries_of(proposal_id)
    identity = sealing.identity()
    public_id = new_public_id()
    document = build_document(proposal, signature, entries, public_id, identity.fingerprint)
    sealed = sealing.seal(renderer.render(document), reason=f"{proposal.label} signed", name=document.issuer)
    certificate = Certificate(
        public_id=public_id,
        proposal_id=proposal.id,
        signature_id=signature.id,
        locale=_signing_facts(entries).locale,
        content_sha256=signature.content_hash,
        chain_count=len(entries),
        chain_head=entries[-1].entry_hash if entries else evidence.GENESIS,
        pdf=sealed,
        pdf_sha256=hashlib.sha256(sealed).hexdigest(),
        seal_fingerprint=identity.fingerprint,
    )
    db.session.add(certificate)
    db.session.flush()
    evidence.record(
        proposal.id,
        evidence.Kind.CERTIFICATE_ISSUED,
        data={"certificate": public_id, "pdf_sha256": certificate.pdf_sha256},
        client=False,
    )
    _mail_contact(proposal, certificate)
    return certificate


def _mail_contact(proposal: Proposal, certificate: Certificate) -> None:
    """The signer gets a fresh portal link to the proposal, whose page has the download."""
    contact = proposal.signature.contact
    if not contact.has_portal_access:
        return
    issued = links.issue_link(contact, "proposal", proposal.id)
    message = queue_mail(
        contact.email,
        str(_l("Your signed proposal %(label)s: the certificate", label=proposal.label)),
        "proposal_certificate",
        kind="proposal_certificate",
        contact=contact,
        proposal=proposal,
        certificate=certificate,
        url=external_url("links.open", token=issued.token),
        verify_url=external_url("verify.index"),
    )
    evidence.remember_mail(proposal.id, message)


@job("proposals.certificate")
def certificate_job(proposal_id: int) -> None:
    """The worker's job after a signature: issue the certificate (idempotent)."""
    issue_certificate(int(proposal_id))
    db.session.commit()


# --- verifying -------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What the verify page says. ``outcome``: genuine, altered, unknown_here (ours, but
    no record: a restore), other_instance, not_ours, not_pdf, unknown_id."""

    outcome: str
    certificate: Certificate | None = None
    proposal: Proposal | None = None
    chain: evidence.ChainReport | None = None
    public_id: str | None = None
    signer_name: str = ""


def _known_fingerprints() -> set[str]:
    found = set(db.session.scalars(select(Certificate.seal_fingerprint).distinct()))
    try:
        found.add(sealing.identity().fingerprint)
    except sealing.SealUnavailable:
        pass
    return found


def _verdict_for(certificate: Certificate, outcome: str = "genuine") -> Verdict:
    proposal = db.session.get(Proposal, certificate.proposal_id)
    signature = db.session.get(Signature, certificate.signature_id)
    return Verdict(
        outcome,
        signer_name=signature.signer_name if signature is not None else "",
        certificate=certificate,
        proposal=proposal,
        chain=evidence.check_chain(certificate.proposal_id, certificate),
        public_id=certificate.public_id,
    )


def lookup_upload(data: bytes) -> Verdict:
    """Judge an uploaded file by its bytes alone: its hash, and our marker if present."""
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        return Verdict("not_pdf")
    digest = hashlib.sha256(data).hexdigest()
    certificate = db.session.scalar(select(Certificate).where(Certificate.pdf_sha256 == digest))
    if certificate is not None:
        return _verdict_for(certificate)
    marker = MARKER.search(data)
    if marker is None:
        return Verdict("not_ours")
    public_id, fingerprint = marker.group(1).decode(), marker.group(2).decode()
    if fingerprint not in _known_fingerprints():
        return Verdict("other_instance", public_id=public_id)
    certificate = db.session.scalar(select(Certificate).where(Certificate.public_id == public_id))
    if certificate is None:
        return Verdict("unknown_here", public_id=public_id)
    return _verdict_for(certificate, outcome="altered")


def lookup_id(public_id: str) -> Verdict:
    certificate = db.session.scalar(select(Certificate).where(Certificate.public_id == public_id))
    if certificate is None:
        return Verdict("unknown_id", public_id=public_id)
    return _verdict_for(certificate)
