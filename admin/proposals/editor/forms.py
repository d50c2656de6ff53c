"""Staff proposal forms: shape and format only; the proposal service holds the rules."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, StopValidation

from portal.core.parsing import PlainDecimalField, coerce_id
from portal.domains.proposals.models import LOST_REASONS, MAX_QUANTITY, MAX_UNIT_PRICE

CURRENCIES = ("USD", "EUR", "GBP", "RON", "CAD")
# Fixed choices are given as callables: WTForms 3.3 deprecates (and 3.4 removes) tuple
# choices passed to the field's constructor; a callable works from WTForms 3.0 on.

LOST_REASON_LABELS = {
    "price": _l("Price"),
    "competitor": _l("Went with a competitor"),
    "timing": _l("Timing"),
    "scope": _l("Scope did not fit"),
    "no_decision": _l("No decision"),
    "other": _l("Other"),
}


class ProposalCreateForm(FlaskForm):
    contact_id = SelectField(_l("Addressed to"), coerce=coerce_id, validators=[DataRequired(_l("Choose a contact."))])
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the proposal a title.")), Length(max=200)])
    currency = SelectField(_l("Currency"), choices=lambda: [(c, c) for c in CURRENCIES], default="USD")
    terms = TextAreaField(_l("Terms"), validators=[Length(max=20000)])


class ProposalHeaderForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the proposal a title.")), Length(max=200)])
    terms = TextAreaField(_l("Terms shown to the customer"), validators=[Length(max=20000)])
    internal_notes = TextAreaField(_l("Internal notes (staff only)"), validators=[Length(max=20000)])


class QuantityField(PlainDecimalField):
    """A quantity shown without trailing zeros ("4", "2.5"), however the column pads it."""

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return format(self.data.normalize(), "f") if self.data.is_finite() else str(self.data)


def _finite(form, field) -> None:
    """DecimalField accepts "NaN" and "Infinity"; comparing NaN in NumberRange raises.
    A value the parsing layer refused already carries its message: stop there."""
    if field.process_errors:
        raise StopValidation()
    if field.data is not None and not field.data.is_finite():
        field.data = None
        raise StopValidation(_l("Enter a number."))


class LineForm(FlaskForm):
    catalog_item_id = SelectField(_l("Service"), coerce=coerce_id, default=0)
    # A text area, so a long description wraps in the editor instead of being cut off.
    description = TextAreaField(_l("Description"), validators=[Length(max=500)])
    # Generous digits: the range validators below give the specific message for a
    # number too large; the parsing layer only refuses what is not a plain number.
    quantity = QuantityField(
        _l("Quantity"),
        places=None,
        digits=30,
        default=Decimal("1"),
        validators=[
            InputRequired(_l("Enter a quantity.")),
            _finite,
            NumberRange(min=Decimal("0.001"), message=_l("Quantity must be greater than zero.")),
            NumberRange(max=MAX_QUANTITY, message=_l("Quantity can be at most %(max)s.", max=f"{MAX_QUANTITY:,}")),
        ],
    )
    unit_price = PlainDecimalField(
        _l("Unit price"),
        places=2,
        digits=30,
        validators=[
            Optional(),
            _finite,
            NumberRange(min=0, message=_l("Unit price must be zero or more.")),
            NumberRange(
                max=MAX_UNIT_PRICE, message=_l("Unit price can be at most %(max)s.", max=f"{MAX_UNIT_PRICE:,}")
            ),
        ],
    )
    position = IntegerField(_l("Position"), validators=[Optional(), NumberRange(min=0, max=10_000)])
    is_optional = BooleanField(_l("Optional service"))


class DeliverForm(FlaskForm):
    contact_id = SelectField(_l("Send to"), coerce=coerce_id, validators=[DataRequired(_l("Choose a contact."))])


class LostForm(FlaskForm):
    reason = SelectField(
        _l("Reason"), choices=lambda: [(r, LOST_REASON_LABELS[r]) for r in LOST_REASONS], validators=[DataRequired()]
    )
    competitor = StringField(_l("Competitor"), validators=[Length(max=200)])
    detail = TextAreaField(_l("Detail"), validators=[Length(max=5000)])
