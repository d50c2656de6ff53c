"""Every mail is multipart (text and HTML from one template pair and one layout), and
what a real SMTP server (aiosmtpd on loopback) receives is parsed as a client would
(``email.parser``, ``policy.default``): both parts, the same links, the button, the
business's name and colour, nothing remote, the language it was rendered in; and once
it is sent the outbox keeps no token or code in either part."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from portal.core.extensions import db
from portal.mail.models import OutboxMessage, OutboxStatus
from portal.mail.outbox import deliver_due, queue_mail, redact_html_secrets
from portal.mail.rendering import contrast_ratio, readable_on, render_mail
from tests.factories import staff_message

EMAILS = Path(__file__).resolve().parents[2] / "portal" / "templates" / "emails"
URL = re.compile(r"https?://[^\s<>\"']+")


class HtmlFacts(HTMLParser):
    """What a mail's HTML holds: elements with their attributes, visible text, styles."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self._open: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag not in ("meta", "br", "base", "img", "link"):
            self._open.append(tag)

    def handle_endtag(self, tag):
        if tag in self._open:
            while self._open and self._open.pop() != tag:
                pass

    def handle_data(self, data):
        if self._open and self._open[-1] == "style":
            self.styles.append(data)
        elif self._open and self._open[-1] != "title":
            self.text.append(data)

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.elements if name == tag]

    @property
    def hrefs(self) -> set[str]:
        return {attrs["href"] for attrs in self.all("a")}

    @property
    def visible_text(self) -> str:
        return " ".join(self.text)

    def buttons(self) -> list[dict]:
        return [attrs for attrs in self.all("a") if "button" in (attrs.get("class") or "").split()]


def parts(received) -> tuple[str, str]:
    """The text and HTML parts of a received message (which must be multipart/alternative)."""
    assert received.get_content_type() == "multipart/alternative"
    plain, html = received.get_body(("plain",)), received.get_body(("html",))
    assert plain is not None and html is not None
    # SMTP carries CRLF line ends; a client shows lines
    return plain.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def assert_well_made(text: str, html: str, business: str = "Porchlight") -> HtmlFacts:
    """The checks every message passes: same links in both parts, the action as a button
    with its link written out, the business named, nothing remote, styles inline."""
    facts = HtmlFacts(html)
    text_links = set(URL.findall(text))
    assert text_links, "the message has no link"
    assert facts.hrefs == text_links  # every link of the text is in the HTML, and no other
    assert set(URL.findall(facts.visible_text)) == text_links  # ... and written out there too
    (button,) = facts.buttons()
    assert button["href"] in text_links
    assert business in text and business in facts.visible_text
    # nothing remote: no src at all (no images), no <link>, no @import, no url()
    assert not [attrs for _tag, attrs in facts.elements if "src" in attrs]
    assert not facts.all("link") and not facts.all("script") and not facts.all("img")
    every_style = " ".join(facts.styles + [attrs.get("style") or "" for _tag, attrs in facts.elements])
    assert "@import" not in every_style and "url(" not in every_style
    # the layout's rules are inline; the one <style> left holds only the dark-mode rules
    assert len(facts.styles) == 1 and facts.styles[0].strip().startswith("@media (prefers-color-scheme: dark)")
    unstyled = [tag for tag, attrs in facts.elements if attrs.get("class") and not attrs.get("style")]
    assert not unstyled, f"classes left without their inline style: {unstyled}"
    assert button["style"].count("background-color") and "color:" in button["style"]
    assert facts.all("meta") and any(m.get("name") == "color-scheme" for m in facts.all("meta"))
    return facts


def _deliver(app):
    with app.app_context():
        report = deliver_due()
        db.session.remove()
    return report


def _stored(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return rows


# --- what the SMTP server receives -------------------------------------------------------


def test_a_delivered_proposal_arrives_as_text_and_html_with_the_same_link_and_a_review_button(
    app, make, mail_server, monkeypatch
):
    monkeypatch.setitem(app.config, "BUSINESS_NAME", "Greenleaf Grounds Co.")
    monkeypatch.setitem(app.config, "BRAND_COLOUR", "#0A7D4F")
    delivered = make.delivered(title="Spring grounds care")
    assert _deliver(app).sent == 1

    (received,) = mail_server.messages
    text, html = parts(received)
    facts = assert_well_made(text, html, business="Greenleaf Grounds Co.")
    link = f"https://portal.example.test/l/{delivered.token}"
    assert URL.findall(text) == [link]
    (button,) = facts.buttons()
    assert button["href"] == link
    assert "Review and sign" in html
    assert "background-color: #0a7d4f" in button["style"] and "color: #ffffff" in button["style"]
    assert "Spring grounds care" in text and "Spring grounds care" in facts.visible_text
    assert received["Content-Language"] == "en"
    assert re.search(r'<html lang="en"', html)


def test_a_sign_in_mail_has_the_sign_in_button_the_code_in_both_parts_and_keeps_neither_once_sent(
    app, make, mail_server
):
    from portal.domains.identity.sign_in import request_sign_in

    contact = make.contact(email="cora@example.test")
    with app.app_context():
        request_sign_in(contact.email, "127.0.0.1")
        db.session.commit()
        db.session.remove()
    assert _deliver(app).sent == 1

    (received,) = mail_server.messages
    text, html = parts(received)
    facts = assert_well_made(text, html)
    assert received["Subject"] == "Your sign-in link for Porchlight"
    token = re.search(r"/sign-in/([A-Za-z0-9_\-]{16,})", text).group(1)
    code = re.search(r"^(\d{6})$", text, re.M).group(1)
    (button,) = facts.buttons()
    assert button["href"].endswith(f"/sign-in/{token}")
    assert "Sign in" in html and code in facts.visible_text

    (stored,) = _stored(app)
    assert stored.status == OutboxStatus.SENT
    for secret in (token, code):
        assert secret not in stored.body_text and secret not in stored.body_html
    kept = HtmlFacts(stored.body_html)
    assert kept.hrefs == {"https://portal.example.test/sign-in/[removed]"}  # the href too
    assert "[code removed]" in kept.visible_text
    assert kept.buttons() and "Sign in" in stored.body_html  # the rest of the mail stays readable


def test_staff_mail_is_multipart_too_with_its_own_action(app, make, mail_server):
    staff = make.staff(name="Sam Sales")
    signed = make.signed(make.delivered(proposal=make.proposal(rep=staff, title="Hedge trimming")))
    assert _deliver(app).sent == 2  # the customer's delivery, the rep's "signed"

    received = next(m for m in mail_server.messages if m["To"] == staff.email)
    text, html = parts(received)
    facts = assert_well_made(text, html)
    (button,) = facts.buttons()
    assert button["href"] == f"https://portal.example.test/admin/proposals/{signed.proposal.id}"
    assert "Review the signature" in html


def test_a_ticket_reply_shows_the_staff_words_escaped_in_the_html_part(app, make, mail_server):
    staff = make.staff(name="Theo Tech")
    ticket = make.ticket(title="Leaking tap")
    _deliver(app)
    mail_server.messages.clear()
    staff_message(app, ticket, staff, body="We come <b>Tuesday</b>.\nBring the key <script>alert(1)</script>")
    assert _deliver(app).sent == 1

    (received,) = mail_server.messages
    text, html = parts(received)
    facts = assert_well_made(text, html)
    assert "<script" not in html and "&lt;script&gt;" in html and "&lt;b&gt;Tuesday&lt;/b&gt;" in html
    assert "We come <b>Tuesday</b>." in facts.visible_text  # shown as written, never as markup
    assert "View your ticket" in html


def test_a_mail_rendered_in_another_locale_says_so_in_its_header_and_html_and_formats_in_it(app, make, mail_server):
    from portal.core.templating import format_moment

    when = datetime(2030, 3, 5, 9, 30)
    contact = SimpleNamespace(first_name="Ioana", timezone="Europe/Bucharest")
    with app.test_request_context():
        with force_locale("ro"):
            queue_mail(
                "ioana@example.test",
                "Link nou",
                "link_renewed",
                kind="link_renewed",
                contact=contact,
                url="https://portal.example.test/l/romanian-token",
                expires_at=when,
            )
            romanian = format_moment(when, tz="Europe/Bucharest")
        english = format_moment(when, tz="Europe/Bucharest")
        db.session.commit()
    assert romanian != english
    assert _deliver(app).sent == 1

    (received,) = mail_server.messages
    text, html = parts(received)
    assert_well_made(text, html)
    assert received["Content-Language"] == "ro"
    assert '<html lang="ro"' in html
    assert romanian in text and romanian in html  # dates in the locale the mail was rendered in


# --- every template pair -----------------------------------------------------------------


def test_every_text_template_has_its_html_twin():
    texts = {path.stem for path in EMAILS.glob("*.txt")}
    htmls = {path.stem for path in EMAILS.glob("*.html") if not path.stem.startswith("_")}
    assert texts, "no email templates found"
    assert texts == htmls


def _contexts() -> dict[str, dict]:
    """A plausible context for each message, with the objects' attributes the templates read."""
    N = SimpleNamespace
    contact = N(first_name="Cora", full_name="Cora Contact", timezone="Europe/Madrid")
    user = N(name="Sam Sales", timezone="America/New_York")
    ticket = N(number="T-000042", title="Leak by the gate", priority="high", first_response_due_at=datetime(2030, 1, 1))
    portal = "https://portal.example.test/l/" + "A1b2_C3d4-" * 4
    admin = "https://portal.example.test/admin/tickets/42"
    proposal = N(label="P-000007", title="Spring grounds care")
    until = datetime(2030, 1, 1, 12)
    return {
        "link_renewed": dict(contact=contact, url=portal, expires_at=until),
        "portal_sign_in": dict(
            contact=contact,
            url="https://portal.example.test/sign-in/" + "s" * 43,
            code="042917",
            minutes=10,
            expires_at=until,
        ),
        "proposal_delivered": dict(contact=contact, proposal=proposal, staff=user, url=portal, expires_at=until),
        "proposal_signed": dict(
            proposal=proposal,
            signature=N(signer_name="Cora Contact", signed_total=Decimal("180.00"), currency="EUR"),
            totals=N(selected_ids=[1, 2]),
            rep=user,
            url="https://portal.example.test/admin/proposals/7",
        ),
        "ticket_assigned": dict(ticket=ticket, user=user, by=user, url=admin),
        "ticket_breached": dict(
            ticket=ticket, user=user, first_response=True, due_at=until, organization=N(name="Greenleaf"), url=admin
        ),
        "ticket_contact_reply": dict(
            ticket=ticket, user=user, contact=contact, message=N(body="Still dripping."), url=admin
        ),
        "ticket_new_for_staff": dict(
            ticket=ticket, user=user, contact=contact, organization=N(name="Greenleaf"), url=admin
        ),
        "ticket_opened": dict(ticket=ticket, contact=contact, url=portal),
        "ticket_reopened": dict(ticket=ticket, user=user, contact=contact, url=admin),
        "ticket_staff_reply": dict(
            ticket=ticket, contact=contact, author=user, message=N(body="On Tuesday."), url=portal
        ),
    }


@pytest.mark.parametrize("template", sorted(_contexts()))
def test_each_message_renders_both_parts_in_the_one_layout(app, template):
    with app.test_request_context():
        rendered = render_mail(template, **_contexts()[template])
    assert rendered.locale == "en"
    facts = assert_well_made(rendered.text, rendered.html)
    assert '<html lang="en" dir="ltr">' in rendered.html
    # the one layout: its stripe in the brand colour, the container at most 600 px wide
    assert [a for _t, a in facts.elements if "stripe" in (a.get("class") or "")][0]["bgcolor"] == "#1f5fa8"
    (container,) = [a for _t, a in facts.elements if a.get("class") == "container"]
    assert "max-width: 600px" in container["style"] and container["width"] == "100%"


def test_a_message_without_a_customer_link_has_no_button_and_says_how_we_answer(app):
    context = _contexts()["ticket_staff_reply"] | {"url": None}
    with app.test_request_context():
        rendered = render_mail("ticket_staff_reply", **context)
    facts = HtmlFacts(rendered.html)
    assert not facts.buttons() and not facts.hrefs and not URL.findall(rendered.text)
    assert "Reply to us by phone or email" in rendered.text and "Reply to us by phone or email" in rendered.html


def test_a_message_with_only_a_text_template_still_gets_an_html_part_in_the_layout(app, monkeypatch):
    from jinja2 import ChoiceLoader, DictLoader

    extra = DictLoader(
        {
            "emails/only_text.txt": "Hello Cora,\n\nYour visit is booked:\nhttps://portal.example.test/x\n\n-- \n{{ business_name }}\n"
        }
    )
    monkeypatch.setattr(app.jinja_env, "loader", ChoiceLoader([extra, app.jinja_env.loader]))
    with app.test_request_context():
        rendered = render_mail("only_text")
    facts = HtmlFacts(rendered.html)
    assert facts.hrefs == {"https://portal.example.test/x"}
    assert "Your visit is booked:" in facts.visible_text and "--" not in facts.visible_text
    assert rendered.html.count("Porchlight") >= 2  # the layout's header and footer


def test_an_invalid_brand_colour_never_reaches_a_style(app, monkeypatch):
    monkeypatch.setitem(app.config, "BRAND_COLOUR", "red; background-image: url(https://evil.example/x.png)")
    with app.test_request_context():
        rendered = render_mail("link_renewed", **_contexts()["link_renewed"])
    assert "evil.example" not in rendered.html and "#1f5fa8" in rendered.html


def test_brand_colour_setting_is_checked_when_the_config_is_read(tmp_path, monkeypatch):
    from portal.core.config import Config

    monkeypatch.setenv("BRAND_COLOUR", "#ABC")
    assert Config(str(tmp_path)).BRAND_COLOUR == "#aabbcc"
    monkeypatch.setenv("BRAND_COLOUR", "")
    assert Config(str(tmp_path)).BRAND_COLOUR == "#1f5fa8"
    monkeypatch.setenv("BRAND_COLOUR", "blue")
    with pytest.raises(ValueError, match="BRAND_COLOUR must be a colour written #rgb or #rrggbb"):
        Config(str(tmp_path))


@pytest.mark.parametrize("colour", ["#1f5fa8", "#ffd400", "#0a7d4f", "#e4572e", "#f5f5f5", "#222222"])
def test_the_button_text_is_whichever_of_white_and_black_reads_better_on_the_brand_colour(colour):
    chosen = readable_on(colour)
    other = "#111111" if chosen == "#ffffff" else "#ffffff"
    assert contrast_ratio(colour, chosen) >= contrast_ratio(colour, other)
    assert contrast_ratio(colour, chosen) >= 4.5


def test_redacting_the_html_part_removes_tokens_from_hrefs_and_text_and_the_code():
    html = (
        '<p><a class="button" href="https://p.test/l/Tok_en-123">Open</a></p>'
        '<p><a href="https://p.test/sign-in/abcdefghijklmnopqrstuvwx">https://p.test/sign-in/abcdefghijklmnopqrstuvwx</a></p>'
        '<p class="code" style="x">\n  042917\n</p><p>Ticket T-000042, total 123456.00</p>'
    )
    redacted = redact_html_secrets(html)
    for secret in ("Tok_en-123", "abcdefghijklmnopqrstuvwx", "042917"):
        assert secret not in redacted
    assert 'href="https://p.test/l/[removed]"' in redacted and "[code removed]" in redacted
    assert "T-000042, total 123456.00" in redacted  # numbers that are not a code alone stay
    assert redact_html_secrets(None) is None


def test_a_message_queued_before_mail_was_multipart_still_goes_as_plain_text(app, mail_server):
    from sqlalchemy import update

    from tests.factories import queued_mail

    queued = queued_mail(app)
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(body_html=None, locale=None))
        db.session.commit()
    assert _deliver(app).sent == 1
    (received,) = mail_server.messages
    assert received.get_content_type() == "text/plain" and received["Content-Language"] is None
    assert "https://portal.example.test/l/example-token" in received.get_content()
    (stored,) = _stored(app)
    assert stored.id == queued.id and stored.body_html is None and "/l/[removed]" in stored.body_text


def test_a_light_brand_colour_gets_dark_button_text_and_the_business_name_is_escaped(app, monkeypatch):
    monkeypatch.setitem(app.config, "BRAND_COLOUR", "#FFD400")
    monkeypatch.setitem(app.config, "BUSINESS_NAME", "Rossi & Figli <Giardini>")
    with app.test_request_context():
        rendered = render_mail("proposal_delivered", **_contexts()["proposal_delivered"])
    facts = assert_well_made(rendered.text, rendered.html, business="Rossi & Figli <Giardini>")
    (button,) = facts.buttons()
    assert "background-color: #ffd400" in button["style"] and "color: #111111" in button["style"]
    assert "<Giardini>" not in rendered.html and "Rossi &amp; Figli &lt;Giardini&gt;" in rendered.html
    assert "Rossi & Figli <Giardini>" in rendered.text  # the text part is plain text, not escaped
