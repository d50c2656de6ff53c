"""Portal proposal forms. They only validate shape; the service holds the rules."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField


class ProposalSignForm(FlaskForm):
    """The sign form. Option ids arrive as a plain list (``request.form.getlist``)."""

    signer_name = StringField()
    consent = BooleanField()
    signature_png = HiddenField()
    strokes = HiddenField()
    seen_hash = HiddenField()
    consent_version = HiddenField()  # the language of the consent wording the contact read
