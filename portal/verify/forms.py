"""The verify form: a PDF to hash, or a certificate id. Shape only."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField
from wtforms.validators import Length, Optional


class VerifyForm(FlaskForm):
    document = FileField(_l("A certificate (PDF)"))
    certificate_id = StringField(
        _l("or its certificate id"),
        validators=[Optional(), Length(max=200, message=_l("That is not a certificate id."))],
    )
