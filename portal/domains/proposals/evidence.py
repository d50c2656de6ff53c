"""The evidence log: append an event to a proposal's chain, and check a chain.

Every event of a proposal's life that matters as evidence is appended here, in the
caller's transaction: delivered, mail sent (with its Message-ID), link opened, page
viewed, option ticked or unticked, consent given (with the SHA-256 of the consent
text exactly as shown), signed, marked won or lost, new revision, certificate issued.
Each entry carries the UTC time, the zone the contact or staff member saw, IP, user
agent, the portal link in use, and the hash of the entry before it.

``check_chain`` recomputes every hash; it names the first entry that does not fit
(edited, removed, reordered) and sees a chain shorter than its recorded head or its
certificate (the last entries removed, or a database restored from an older backup).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.request_facts import client_facts
from portal.domains.proposals.evidence_models import Certificate, EvidenceEntry, EvidenceHead, EvidenceMail
from portal.mail.outbox import mail_sent

log = logging.getLogger(__name__)

GENESIS = "0" * 64


class Kind:
    DELIVERED = "delivered"
    MAIL_SENT = "mail_sent"
    LINK_OPENED = "link_opened"
    PAGE_VIEWED = "page_viewed"
    OPTION_TICKED = "option_ticked"
    OPTION_UNTICKED = "option_unticked"
    CONSENT_GIVEN = "consent_given"
    SIGNED = "signed"
    WON = "won"
    LOST = "lost"
    NEW_REVISION = "new_revision"
    CERTIFICATE_ISSUED = "certificate_issued"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _moment(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(entry: EvidenceEntry) -> str:
    """The hash of one entry: every column but its id and its own hash, in canonical
    JSON, with the previous entry's hash, so nothing can change unseen."""
    document = {
        "proposal": entry.proposal_id,
        "seq": entry.seq,
        "kind": entry.kind,
        "at": _moment(entry.occurred_at),
        "zone": entry.time_zone,
        "ip": entry.ip,
        "ua": entry.user_agent,
        "link": entry.link_id,
        "staff": entry.staff_id,
        "contact": entry.contact_id,
        "data": entry.data,
        "prev": entry.prev_hash,
    }
    return hashlib.sha256(_canonical(document).encode("utf-8")).hexdigest()


def record(
    proposal_id: int,
    kind: str,
    *,
    staff=None,
    contact_id: int | None = None,
    link_id: int | None = None,
    data: dict | None = None,
    time_zone: str | None = None,
    at: datetime | None = None,
    client: bool = True,
) -> EvidenceEntry:
    """Append one entry to the proposal's chain (flushed, never committed here).

    ``client`` takes address, user agent and zone from the request being served (none
    in the worker); pass ``False`` for events the system itself causes."""
    facts = client_facts()
    entry_data = _canonical(data or {})
    for _attempt in range(20):
        head = db.session.execute(
            select(EvidenceHead.entry_count, EvidenceHead.head_hash).where(EvidenceHead.proposal_id == proposal_id)
        ).first()
        count, prev = (head.entry_count, head.head_hash) if head else (0, GENESIS)
        entry = EvidenceEntry(
            proposal_id=proposal_id,
            seq=count + 1,
            kind=kind,
            occurred_at=at or utcnow(),
            time_zone=(time_zone or facts.time_zone)[:64],
            ip=facts.ip if client else None,
            user_agent=facts.user_agent if client else None,
            link_id=link_id,
            staff_id=staff.id if staff is not None else None,
            contact_id=contact_id,
            data=entry_data,
            prev_hash=prev,
        )
        entry.entry_hash = compute_hash(entry)
        if _advance_head(proposal_id, count, entry.entry_hash):
            db.session.add(entry)
            db.session.flush()
            return entry
    raise RuntimeError(f"could not append to the evidence chain of proposal {proposal_id}")


def _advance_head(proposal_id: int, count: int, new_hash: str) -> bool:
    """Move the head from ``count`` to ``count + 1`` unless someone else did first."""
    if count == 0:
        try:
            with db.session.begin_nested():
                db.session.add(EvidenceHead(proposal_id=proposal_id, entry_count=1, head_hash=new_hash))
            return True
        except IntegrityError:  # another request started the chain: read it again
            return False
    result = db.session.execute(
        update(EvidenceHead)
        .where(EvidenceHead.proposal_id == proposal_id, EvidenceHead.entry_count == count)
        .values(entry_count=count + 1, head_hash=new_hash, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def record_safely(proposal_id: int, kind: str, **kwargs) -> None:
    """``record`` for hooks that must never fail what they observe (a page view, a mail
    sent): a failure is logged and the caller goes on."""
    try:
        with db.session.begin_nested():
            record(proposal_id, kind, **kwargs)
    except Exception:  # noqa: BLE001 - evidence of a view must not cost the customer the page
        log.exception("evidence entry %s for proposal %s not written", kind, proposal_id)


def entries_of(proposal_id: int) -> list[EvidenceEntry]:
    return list(
        db.session.scalars(
            select(EvidenceEntry).where(EvidenceEntry.proposal_id == proposal_id).order_by(EvidenceEntry.seq)
        )
    )


def head_of(proposal_id: int) -> EvidenceHead | None:
    return db.session.get(EvidenceHead, proposal_id)


# --- checking ------------------------------------------------------------------


@dataclass
class ChainReport:
    proposal_id: int
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    cut: bool = False  # shorter than recorded: the last entries are gone (removed, or a restore)

    @property
    def intact(self) -> bool:
        return not self.problems


def check_chain(proposal_id: int, certificate: Certificate | None = None) -> ChainReport:
    """Recompute the proposal's chain and compare it with its head and certificate."""
    report = ChainReport(proposal_id)
    entries = entries_of(proposal_id)
    report.entries = len(entries)
    prev = GENESIS
    by_seq: dict[int, str] = {}
    for index, entry in enumerate(entries, start=1):
        if entry.seq != index:
            report.problems.append(
                f"entry {index} is missing: the chain jumps to entry {entry.seq} (id {entry.id}, {entry.kind})"
            )
            break
        if entry.prev_hash != prev:
            report.problems.append(
                f"entry {entry.seq} (id {entry.id}, {entry.kind}) does not follow entry {index - 1}: "
                "an entry was removed, reordered or changed before it"
            )
            break
        if compute_hash(entry) != entry.entry_hash:
            report.problems.append(f"entry {entry.seq} (id {entry.id}, {entry.kind}) was changed after it was written")
            break
        by_seq[entry.seq] = entry.entry_hash
        prev = entry.entry_hash
    head = head_of(proposal_id)
    if not report.problems and head is not None:
        if head.entry_count > len(entries):
            report.cut = True
            report.problems.append(
                f"the chain ends at entry {len(entries)} but {head.entry_count} were written: the last entries are missing"
            )
        elif head.entry_count < len(entries) or (entries and head.head_hash != prev):
            report.problems.append(f"the chain's recorded head ({head.entry_count} entries) does not match its entries")
    elif not report.problems and entries:
        report.problems.append("the chain's head record is missing")
    if certificate is not None and not report.problems:
        recorded = by_seq.get(certificate.chain_count)
        if recorded is None:
            report.cut = True
            report.problems.append(
                f"the certificate recorded {certificate.chain_count} entries but the chain has {len(entries)}: "
                "entries are missing (removed, or the database was restored from an older backup)"
            )
        elif recorded != certificate.chain_head:
            report.problems.append(f"entry {certificate.chain_count} is not the one the certificate recorded")
    return report


def check_every_chain() -> list[ChainReport]:
    """Every chain of the database (the ``flask evidence check`` command)."""
    ids = set(db.session.scalars(select(EvidenceHead.proposal_id)))
    ids |= set(db.session.scalars(select(EvidenceEntry.proposal_id).distinct()))
    certificates = {c.proposal_id: c for c in db.session.scalars(select(Certificate))}
    ids |= set(certificates)
    return [check_chain(proposal_id, certificates.get(proposal_id)) for proposal_id in sorted(ids)]


# --- the events of a proposal's life ----------------------------------------------
# Called by the proposal operations (delivered, signed, decided, revised) and the
# portal views (link opened, page viewed, options), each in the caller's transaction.


def remember_mail(proposal_id: int, message) -> None:
    """Tie an outbox message to the proposal, so its sending is recorded in the chain."""
    db.session.add(EvidenceMail(message_id=message.message_id, proposal_id=proposal_id))
    db.session.flush()


def record_delivered(proposal, staff, contact, link, message) -> None:
    record(
        proposal.id,
        Kind.DELIVERED,
        staff=staff,
        contact_id=contact.id,
        link_id=link.id,
        data={"to": contact.email, "message_id": message.message_id, "content_version": proposal.content_version},
    )
    remember_mail(proposal.id, message)


def record_signing(proposal, signature, contact, link, consent_text: str, locale: str) -> None:
    """Consent (with the SHA-256 of the text exactly as shown), then the signature
    itself; then the certificate is made by the worker once this commits."""
    from portal.jobs.queue import enqueue

    link_id = link.id if link is not None else None
    record(
        proposal.id,
        Kind.CONSENT_GIVEN,
        contact_id=contact.id,
        link_id=link_id,
        data={
            "version": signature.consent_version,
            "locale": locale,
            "text": consent_text,
            "text_sha256": sha256_text(consent_text),
        },
    )
    record(
        proposal.id,
        Kind.SIGNED,
        contact_id=contact.id,
        link_id=link_id,
        data={
            "signature": signature.id,
            "signer_name": signature.signer_name,
            "content_sha256": signature.content_hash,
            "selected": json.loads(signature.selected_line_ids),
            "total": f"{signature.signed_total:.2f}",
            "currency": signature.currency,
            "png_sha256": hashlib.sha256(signature.image_png).hexdigest(),
            "locale": locale,
        },
    )
    enqueue("proposals.certificate", key=f"proposals.certificate:{proposal.id}", proposal_id=proposal.id)


# Timeline kinds that are evidence too, recorded as they reach the one timeline.
_FROM_TIMELINE = {"won": Kind.WON, "lost": Kind.LOST, "superseded": Kind.NEW_REVISION}


def follow_timeline(proposal, kind: str, staff=None, contact=None, detail: str = "") -> None:
    """A staff decision or a new revision, as the operations put it on the timeline."""
    if kind in _FROM_TIMELINE:
        data = {"new_revision": detail} if kind == "superseded" else ({"reason": detail} if detail else {})
        record(
            proposal.id,
            _FROM_TIMELINE[kind],
            staff=staff,
            contact_id=contact.id if contact is not None else None,
            data=data,
        )


def record_options(proposal_id: int, contact_id: int, link_id: int | None, before, after) -> None:
    """One entry per option ticked or unticked between two kept selections."""
    from portal.domains.proposals.models import ProposalLine

    before, after = set(before or ()), set(after or ())
    changed = sorted(after ^ before)
    if not changed:
        return
    descriptions = dict(
        db.session.execute(
            select(ProposalLine.id, ProposalLine.description).where(
                ProposalLine.proposal_id == proposal_id, ProposalLine.id.in_(changed)
            )
        ).all()
    )
    for line_id in changed:
        record(
            proposal_id,
            Kind.OPTION_TICKED if line_id in after else Kind.OPTION_UNTICKED,
            contact_id=contact_id,
            link_id=link_id,
            data={"line": line_id, "description": descriptions.get(line_id, "")},
        )


def _on_mail_sent(message) -> None:
    """The outbox sent a message: if it belongs to a proposal, the chain says so."""
    proposal_id = db.session.scalar(
        select(EvidenceMail.proposal_id).where(EvidenceMail.message_id == message.message_id)
    )
    if proposal_id is not None:
        record_safely(
            proposal_id,
            Kind.MAIL_SENT,
            data={"message_id": message.message_id, "to": message.to_addr, "kind": message.kind},
            time_zone="UTC",
            client=False,
        )


mail_sent.connect(_on_mail_sent)
