"""Mail in the recipient's language and time zone, whoever caused it: a staff member
working in English delivers to contacts who read Spanish, Italian and Romanian; the
sales rep hears of a Romanian contact's signature in the instance's language."""

from __future__ import annotations

import json
from datetime import UTC
from zoneinfo import ZoneInfo

from babel.dates import format_date

from portal.core.extensions import db
from portal.domains.customers.models import Organization
from portal.domains.identity.models import PortalLink
from portal.domains.proposals import operations as proposals
from portal.domains.proposals.evidence_models import EvidenceEntry
from portal.domains.proposals.models import Signature
from portal.mail.models import OutboxMessage
from tests.factories import outbox, page_form, sign_form

GREETING = {"es": "Estimado/a Cora:", "it": "Gentile Cora,", "ro": "Stimate/Stimată Cora,"}
SUBJECT = {"es": "Propuesta ", "it": "Proposta ", "ro": "Oferta "}
OPEN_IT = {
    "es": "Ábrala aquí para revisarla, elegir los servicios opcionales y firmarla:",
    "it": "La apra qui per esaminarla, scegliere i servizi facoltativi e firmarla:",
    "ro": "Deschideți-o aici pentru a o examina, a alege serviciile opționale și a o semna:",
}
BUTTON = {"es": "Revisar y firmar", "it": "Esamini e firmi", "ro": "Examinați și semnați"}
ZONES = {"es": "America/Mexico_City", "it": "Europe/Rome", "ro": "Europe/Bucharest"}


def _expiry_day(app, link_id: int, zone: str, language: str) -> str:
    with app.app_context():
        expires = db.session.get(PortalLink, link_id).expires_at
    return format_date(expires.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)), "medium", locale=language)


def test_delivered_proposals_are_mailed_in_each_contacts_language(app, make, login):
    staff = make.staff(role="admin", name="Sam Sales")
    client = app.test_client()
    client.set_cookie("porchlight_lang", "it")  # the staff member's own browser picked Italian
    login(client, staff)
    organization = make.organization()
    contacts = {
        language: make.contact(organization, timezone=ZONES[language], preferred_language=language)
        for language in ("es", "it", "ro")
    }
    for contact in contacts.values():
        proposal = make.proposal(contact=contact, rep=staff, title="Mantenimiento")
        response = client.post(
            f"/admin/proposals/{proposal.id}/deliver",
            data={"contact_id": str(contact.id)},
            headers={"Accept-Language": "es-ES,es;q=0.9"},
        )
        assert response.status_code == 303
    mails = {m["to_addr"]: m for m in outbox(app) if m["kind"] == "proposal_delivered"}
    assert len(mails) == 3
    for language, contact in contacts.items():
        mail = mails[contact.email]
        assert mail["subject"].startswith(SUBJECT[language]), mail["subject"]
        assert GREETING[language] in mail["body_text"] and OPEN_IT[language] in mail["body_text"]
        assert "Hello" not in mail["body_text"] and "Open it here" not in mail["body_text"]
        # the HTML part too, marked with its language (Content-Language follows it)
        with app.app_context():
            stored = db.session.query(OutboxMessage).filter_by(to_addr=contact.email).one()
            assert stored.locale == language and f'lang="{language}"' in stored.body_html
            assert BUTTON[language] in stored.body_html and "Review and sign" not in stored.body_html
        with app.app_context():
            link = db.session.query(PortalLink).filter_by(contact_id=contact.id).one()
        # the link's end, in the contact's own zone and language
        assert _expiry_day(app, link.id, ZONES[language], language) in mail["body_text"]


def test_the_organizations_default_decides_a_contacts_mail_without_a_preference(app, make):
    organization = make.organization()
    with app.app_context():
        db.session.get(Organization, organization.id).default_language = "it"
        db.session.commit()
    delivered = make.delivered(contact=make.contact(organization))
    (mail,) = [m for m in outbox(app) if m["kind"] == "proposal_delivered"]
    assert mail["to_addr"] == delivered.contact.email
    assert mail["subject"].startswith("Proposta ") and GREETING["it"] in mail["body_text"]


def test_a_contact_without_any_language_gets_the_instance_default(app, make):
    make.delivered()
    (mail,) = [m for m in outbox(app) if m["kind"] == "proposal_delivered"]
    assert mail["subject"].startswith("Proposal ") and "Hello Cora," in mail["body_text"]


def test_the_reps_mail_about_a_romanian_signature_is_in_the_instance_language(app, make, open_link):
    contact = make.contact(preferred_language="ro", timezone="Europe/Bucharest")
    delivered = make.delivered(contact=contact)
    client = app.test_client()
    page = open_link(client, delivered.token).get_data(as_text=True)
    assert "Semnați oferta" in page
    form = page_form(page)
    response = client.post(
        f"/p/proposals/{delivered.proposal.id}/sign",
        data=sign_form(
            delivered.proposal, form["options"][:1], seen_hash=form["seen_hash"], consent_version="esign-2026-11-ro"
        ),
    )
    assert response.status_code == 303
    (signed,) = [m for m in outbox(app) if m["kind"] == "proposal_signed"]
    assert signed["subject"].startswith("Proposal ") and "was signed by" in signed["body_text"]
    # the consent she agreed to is the Romanian wording, with its own version in the hash
    with app.app_context():
        signature = db.session.query(Signature).one()
        proposal = proposals.load_proposal(delivered.proposal.id)
        assert signature.consent_version == "esign-2026-11-ro"
        assert proposals.signature_intact(signature, proposal)
        consent = db.session.query(EvidenceEntry).filter_by(kind="consent_given").one()
        facts = json.loads(consent.data)
        assert facts["version"] == "esign-2026-11-ro" and facts["locale"] == "ro"
        assert facts["text_sha256"] == proposals.consent_text_sha256("ro") != proposals.consent_text_sha256("en")
        assert signature.content_hash != proposals.signature_hash(
            proposal, proposals.signed_selection(signature), signature.signed_total, proposals.CONSENT_VERSION
        )


def test_the_consent_wording_differs_per_language_and_so_does_its_version(app):
    with app.app_context():
        hashes = {code: proposals.consent_text_sha256(code) for code in ("en", "es", "it", "ro")}
        versions = {code: proposals.consent_version(code) for code in ("en", "es", "it", "ro")}
    assert len(set(hashes.values())) == 4 and len(set(versions.values())) == 4
    assert versions["en"] == proposals.CONSENT_VERSION


def test_a_staff_reply_reaches_the_contact_in_their_language(app, make, login):
    admin = make.staff(role="admin")
    client = app.test_client()
    login(client, admin)
    contact = make.contact(preferred_language="es")
    ticket = make.ticket(contact=contact)
    response = client.post(f"/admin/tickets/{ticket.id}/reply", data={"body": "Vamos el martes."})
    assert response.status_code in (200, 303)
    (mail,) = [m for m in outbox(app) if m["kind"] == "ticket_reply"]
    assert "respondió a su solicitud" in mail["body_text"] and "Vamos el martes." in mail["body_text"]
    (receipt,) = [m for m in outbox(app) if m["kind"] == "ticket_opened"]
    assert receipt["subject"].startswith("Hemos recibido su solicitud")


def test_mail_a_contact_asked_for_follows_the_page_unless_they_chose_a_language(app, make):
    chooser = make.contact(preferred_language="es")
    browser_only = make.contact()
    for contact in (chooser, browser_only):
        response = app.test_client().post(
            "/sign-in", data={"email": contact.email}, headers={"Accept-Language": "ro-RO,ro;q=0.9"}
        )
        assert response.status_code == 200
    mails = {m["to_addr"]: m for m in outbox(app) if m["kind"] == "portal_sign_in"}
    assert mails[chooser.email]["subject"].startswith("Su enlace de acceso")
    assert mails[browser_only.email]["subject"].startswith("Linkul dumneavoastră de autentificare")
    assert "Pentru a vă autentifica" in mails[browser_only.email]["body_text"]
