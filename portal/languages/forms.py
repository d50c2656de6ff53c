"""The language switch's form: shape only (the languages on offer come from the catalogs)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField

from portal.core.i18n import language_choices


class LanguageForm(FlaskForm):
    """One button per language (``language``), and the page to go back to."""

    language = SelectField(choices=language_choices, validate_choice=True)
    next = HiddenField()
