"""Staff organization forms: shape and format only; the organization service holds the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length

from portal.core.parsing import coerce_id
from portal.domains.customers.models import INVOICE_TEMPLATES, TAX_REGIONS

INVOICE_TEMPLATE_LABELS = {
    "standard": _l("Standard"),
    "detailed": _l("Detailed (every line)"),
    "summary": _l("Summary (one line per service)"),
    "parent_consolidated": _l("Consolidated with the parent's invoice"),
}
TAX_REGION_LABELS = {
    "none": _l("None (no tax)"),
    "us_ny": _l("United States · New York"),
    "us_ca": _l("United States · California"),
    "us_tx": _l("United States · Texas"),
    "eu_it": _l("European Union · Italy"),
    "eu_es": _l("European Union · Spain"),
    "eu_ro": _l("European Union · Romania"),
    "uk": _l("United Kingdom"),
    "ca_on": _l("Canada · Ontario"),
}
PORTAL_LEVEL_LABELS = {
    "requester": _l("Requester"),
    "organization": _l("Organization"),
    "organization_tree": _l("Organization and sub-organizations"),
}


class OrganizationForm(FlaskForm):
    """An organization's details, place in the tree, billing settings and account team.

    The service checks the rules (name required, tax id, bill to parent, billing
    address, cycles) so that every broken rule shows at once; this only checks shape.
    Parent, account manager and team choices are set by the view from what the staff
    member may see; the parent list is searched, so a value outside it is not a form
    error here (the view loads it through the access module).
    """

    name = StringField(_l("Name"), validators=[Length(max=200)])
    city = StringField(_l("City"), validators=[Length(max=120)])
    zone = StringField(_l("Sales zone"), validators=[Length(max=80)])
    parent_id = SelectField(_l("Parent organization"), coerce=coerce_id, default=0, validate_choice=False)
    bill_to_parent = BooleanField(_l("Bill to parent (invoices go to the parent organization)"))
    invoice_template = SelectField(
        _l("Invoice template"),
        default="standard",
        choices=lambda: [(t, INVOICE_TEMPLATE_LABELS.get(t, t)) for t in INVOICE_TEMPLATES],
    )
    tax_region = SelectField(
        _l("Tax region"), default="none", choices=lambda: [(r, TAX_REGION_LABELS.get(r, r)) for r in TAX_REGIONS]
    )
    tax_id = StringField(_l("Tax ID"), validators=[Length(max=40, message=_l("A tax ID has 2 to 40 characters."))])
    billing_address = TextAreaField(_l("Billing address"), validators=[Length(max=2000)])
    billing_attention = StringField(_l("Attention (the billing contact's name)"), validators=[Length(max=200)])
    billing_reviewed = BooleanField(_l("Billing settings reviewed"))
    account_manager_id = SelectField(_l("Account manager"), coerce=coerce_id, default=0)
    team_ids = SelectMultipleField(_l("Account team"), coerce=coerce_id, default=[])
    # 0 inherits; the view lists the SLAs and the service checks the one chosen.
    sla_id = SelectField(_l("SLA"), coerce=coerce_id, default=0, validate_choice=False)
    is_supplier = BooleanField(_l("Supplier (staff may ask it for prices on an opportunity's items)"))
    # The view lists the languages on offer; the service checks the one chosen.
    default_language = SelectField(_l("Default language"), default="", validate_choice=False)
