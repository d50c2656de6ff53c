"""Staff contract forms: shape and format only; ``portal.domains.contracts.operations``
holds the rules (each field's message comes from there)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import NumberRange, Optional

from admin.proposals.editor.forms import QuantityField
from portal.core.parsing import PlainDecimalField, coerce_id
from portal.domains.contracts.models import BillingCycle, LineKind
from portal.domains.contracts.operations import CURRENCIES

BILLING_CYCLE_LABELS = {
    BillingCycle.MONTHLY: _l("Monthly"),
    BillingCycle.QUARTERLY: _l("Quarterly"),
    BillingCycle.YEARLY: _l("Yearly"),
    BillingCycle.ONE_OFF: _l("One-off"),
}
KIND_LABELS = {LineKind.INCLUDED: _l("Included"), LineKind.OPTIONAL: _l("Optional (offered, not in the price)")}


class ContractForm(FlaskForm):
    organization_id = SelectField(_l("Organization"), coerce=coerce_id, default=0, validate_choice=False)
    site_id = SelectField(_l("Property"), coerce=coerce_id, default=0, validate_choice=False)
    title = StringField(_l("Title"))
    starts_on = DateField(_l("Starts on"), validators=[Optional()], format="%Y-%m-%d", render_kw={"type": "date"})
    ends_on = DateField(_l("Ends on"), validators=[Optional()], format="%Y-%m-%d", render_kw={"type": "date"})
    billing_cycle = SelectField(
        _l("Billing cycle"),
        choices=lambda: [(c, BILLING_CYCLE_LABELS[c]) for c in BillingCycle.ALL],
        default=BillingCycle.MONTHLY,
        validate_choice=False,
    )
    currency = SelectField(
        _l("Currency"), choices=lambda: [(c, c) for c in CURRENCIES], default="USD", validate_choice=False
    )
    type_id = SelectField(_l("Type"), coerce=coerce_id, default=0, validate_choice=False)
    notes = TextAreaField(_l("Notes (staff only)"))


class ContractLineForm(FlaskForm):
    service_id = SelectField(_l("Service"), coerce=coerce_id, default=0, validate_choice=False)
    kind = SelectField(
        _l("Kind"),
        choices=lambda: [(k, KIND_LABELS[k]) for k in LineKind.ALL],
        default=LineKind.INCLUDED,
        validate_choice=False,
    )
    description = StringField(_l("Description"))
    quantity = QuantityField(_l("Quantity"), places=None, digits=30, default=Decimal("1"), validators=[Optional()])
    unit_price = PlainDecimalField(_l("Unit price"), places=2, digits=30, validators=[Optional()])
    position = IntegerField(_l("Position"), validators=[Optional(), NumberRange(min=0, max=10_000)])


class CancelForm(FlaskForm):
    reason = StringField(_l("Reason"))
