"""Portal link service: random tokens stored only hashed, lifetimes, revoke, renew."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.db import utcnow
from portal.core.errors import NotAllowed
from portal.core.extensions import db
from portal.domains.customers.models import Contact
from portal.domains.identity import links
from portal.domains.identity.models import PortalLink
from portal.mail.models import OutboxMessage
from tests.factories import snapshot


def _issue(contact_id, target_id, days=None):
    issued = links.issue_link(db.session.get(Contact, contact_id), "proposal", target_id, days=days)
    db.session.commit()
    return issued


def test_tokens_are_long_random_and_unique(make, ctx):
    contact, proposal = make.contact(), make.proposal()
    tokens = {_issue(contact.id, proposal.id).token for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(token) >= 43 for token in tokens)  # 32 random bytes, base64url


def test_only_the_sha256_of_the_token_is_stored(app, make, ctx):
    contact, proposal = make.contact(), make.proposal()
    issued = _issue(contact.id, proposal.id)
    link = db.session.get(PortalLink, issued.link.id)
    assert link.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    everything = repr(snapshot(app))
    assert issued.token not in everything
    assert link.token_hash in everything


def test_find_link_finds_by_token_and_rejects_unknown_or_absurd_tokens(make, ctx):
    contact, proposal = make.contact(), make.proposal()
    issued = _issue(contact.id, proposal.id)
    assert links.find_link(issued.token).id == issued.link.id
    assert links.find_link(issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")) is None
    assert links.find_link("") is None
    assert links.find_link("x" * 500) is None
    assert links.find_link(links.hash_token(issued.token)) is None  # the stored hash is not a token


def test_link_lifetime_comes_from_portal_link_days(app, make, ctx, monkeypatch):
    contact, proposal = make.contact(), make.proposal()
    monkeypatch.setitem(app.config, "PORTAL_LINK_DAYS", 3)
    before = utcnow()
    link = _issue(contact.id, proposal.id).link
    assert before + timedelta(days=3) <= link.expires_at <= utcnow() + timedelta(days=3)
    monkeypatch.setitem(app.config, "PORTAL_LINK_DAYS", 45)
    link = _issue(contact.id, proposal.id).link
    assert link.expires_at - before >= timedelta(days=45)
    assert link.expires_at - utcnow() <= timedelta(days=45)


def test_an_explicit_lifetime_overrides_the_default(make, ctx):
    contact, proposal = make.contact(), make.proposal()
    link = _issue(contact.id, proposal.id, days=1).link
    assert link.expires_at <= utcnow() + timedelta(days=1)


def test_a_link_past_its_expiry_or_revoked_is_not_usable(make, ctx):
    contact, proposal = make.contact(), make.proposal()
    link = _issue(contact.id, proposal.id).link
    assert link.is_usable
    link.expires_at = utcnow() - timedelta(seconds=1)
    assert link.is_expired and not link.is_usable
    fresh = _issue(contact.id, proposal.id).link
    links.revoke_link(fresh)
    assert fresh.revoked_at is not None and not fresh.is_usable


def test_revoking_twice_keeps_the_first_revocation_time(make, ctx):
    contact, proposal = make.contact(), make.proposal()
    link = _issue(contact.id, proposal.id).link
    links.revoke_link(link)
    first = link.revoked_at
    links.revoke_link(link)
    assert link.revoked_at == first


def test_revoke_links_for_touches_only_that_contact_and_target(make, ctx):
    contact, other = make.contact(), make.contact()
    a, b = make.proposal(), make.proposal()
    to_a = _issue(contact.id, a.id).link.id
    to_b = _issue(contact.id, b.id).link.id
    others = _issue(other.id, a.id).link.id
    assert links.revoke_links_for(contact.id, "proposal", a.id) == 1
    db.session.commit()
    db.session.expire_all()
    assert not db.session.get(PortalLink, to_a).is_usable
    assert db.session.get(PortalLink, to_b).is_usable
    assert db.session.get(PortalLink, others).is_usable


def test_renew_mails_a_fresh_link_to_the_address_on_file(app, make, ctx):
    contact = make.contact(email="owner@example.test")
    proposal = make.proposal(contact=contact)
    old = _issue(contact.id, proposal.id, days=0).link
    with app.test_request_context("/l/renew", method="POST", base_url="http://attacker.invalid"):
        issued = links.renew_link(db.session.get(PortalLink, old.id))
        db.session.commit()
        new_link = (
            issued.link.id,
            issued.link.contact_id,
            issued.link.target_type,
            issued.link.target_id,
            issued.link.is_usable,
        )
    assert issued.token and new_link[0] != old.id
    assert new_link[1:] == (contact.id, "proposal", proposal.id, True)
    message = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
    assert message.to_addr == "owner@example.test"
    assert message.kind == "link_renewed"
    assert f"https://portal.example.test/l/{issued.token}" in message.body_text
    assert "attacker.invalid" not in message.body_text


def test_renew_is_refused_when_portal_access_is_off(make, ctx):
    contact = make.contact(portal_enabled=False)
    proposal = make.proposal(contact=contact)
    old = _issue(contact.id, proposal.id).link
    with pytest.raises(NotAllowed):
        links.renew_link(db.session.get(PortalLink, old.id))


def test_mask_email_keeps_the_first_letter_and_the_domain():
    assert links.mask_email("jane.doe@example.com") == "j•••@example.com"


def test_renew_is_refused_for_a_revoked_link(make, ctx):
    """Revocation is final: only an expired link is renewed."""
    contact, proposal = make.contact(), make.proposal()
    issued = _issue(contact.id, proposal.id)
    links.revoke_link(issued.link)
    mails_before = db.session.scalar(select(db.func.count()).select_from(OutboxMessage))
    with pytest.raises(NotAllowed):
        links.renew_link(issued.link)
    assert db.session.scalar(select(db.func.count()).select_from(OutboxMessage)) == mails_before
