"""Supplier quotation forms: shape only; ``portal.domains.sales.supplier_quotes`` holds the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import Length

from portal.core.parsing import coerce_id


class SupplierQuoteRequestForm(FlaskForm):
    """Which supplier contacts to ask, and a message for them (choices set by the view)."""

    contact_ids = SelectMultipleField(_l("Supplier contacts"), coerce=coerce_id, default=[], validate_choice=False)
    message = TextAreaField(_l("Message to the suppliers (optional)"), validators=[Length(max=2000)])


class CopyCostsForm(FlaskForm):
    """The proposal to copy into; the chosen supplier per item is read as ``choice_<item id>``."""

    proposal_id = SelectField(_l("Copy into proposal"), coerce=coerce_id, default=0, validate_choice=False)
