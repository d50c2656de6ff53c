"""Quote request forms: shape only; ``portal.domains.sales.leads`` holds the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField


class QuoteRequestForm(FlaskForm):
    """The public *Request a quote* page. ``website`` is the honeypot: hidden from
    people, filled by bots; a request that fills it is thanked and dropped."""

    name = StringField(_l("Your name"))
    email = StringField(_l("Email"))
    phone = StringField(_l("Phone"))
    address = TextAreaField(_l("Address of the work"))
    need = TextAreaField(_l("What do you need?"))
    website = StringField(_l("Leave this empty"))


class PortalQuoteForm(FlaskForm):
    """A signed-in contact asking for a quote: what they need; the rest is on file."""

    need = TextAreaField(_l("What do you need?"))
