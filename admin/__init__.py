"""The staff area at /admin. Login is required before every view except an allow-list."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user

from portal.core.extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

# Views reachable without a staff login; everything else is denied by default.
# The calendar feed is opened by calendar apps, which carry no login: its token is
# checked instead (admin/sales/people/views.py).
PUBLIC_ENDPOINTS = {"admin.auth.login", "admin.sales_people.calendar_feed"}


@bp.before_request
def require_staff():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


@bp.app_context_processor
def staff_abilities():
    """Templates ask ``can("see_outbox")`` (the policy in ``portal.access.staff``),
    never compare roles themselves."""
    from portal.access.staff import staff_can

    return {"can": lambda ability, obj=None: staff_can(current_user, ability, obj)}


@bp.get("/")
def home():
    """Staff land on My day (``admin.sales.dashboard``)."""
    return redirect(url_for("admin.sales_dashboard.my_day"))


def _register() -> None:
    from admin.campaigns.views import bp as campaigns_bp
    from admin.contracts.editor.views import bp as contracts_bp
    from admin.customers.contacts.views import bp as contacts_bp
    from admin.customers.organizations.views import bp as organizations_bp
    from admin.customers.sites.views import bp as sites_bp
    from admin.identity.auth.views import bp as auth_bp
    from admin.jobs.queue.views import bp as jobs_bp
    from admin.mail.outbox.views import bp as outbox_bp
    from admin.proposals.editor.views import bp as proposals_bp
    from admin.proposals.evidence.views import bp as evidence_bp
    from admin.sales.costs.views import bp as sales_costs_bp
    from admin.sales.dashboard.views import bp as sales_dashboard_bp
    from admin.sales.followup.views import bp as sales_followup_bp
    from admin.sales.leads.views import bp as leads_bp
    from admin.sales.lists.views import bp as sales_lists_bp
    from admin.sales.opportunities.views import bp as opportunities_bp
    from admin.sales.people.views import bp as sales_people_bp
    from admin.sales.quotes.views import bp as sales_quotes_bp
    from admin.sales.reports.views import bp as sales_reports_bp
    from admin.sales.rules.views import bp as sales_rules_bp
    from admin.service_desk.reports.views import bp as reports_bp
    from admin.service_desk.setup.views import bp as service_bp
    from admin.service_desk.tickets.views import bp as tickets_bp

    bp.register_blueprint(auth_bp)
    bp.register_blueprint(contacts_bp)
    bp.register_blueprint(organizations_bp)
    bp.register_blueprint(proposals_bp)
    bp.register_blueprint(evidence_bp)
    bp.register_blueprint(outbox_bp)
    bp.register_blueprint(jobs_bp)
    bp.register_blueprint(tickets_bp)
    bp.register_blueprint(service_bp)
    bp.register_blueprint(reports_bp)
    bp.register_blueprint(sites_bp)
    bp.register_blueprint(leads_bp)
    bp.register_blueprint(sales_costs_bp)
    bp.register_blueprint(sales_quotes_bp)
    bp.register_blueprint(sales_reports_bp)
    bp.register_blueprint(sales_dashboard_bp)
    bp.register_blueprint(opportunities_bp)
    bp.register_blueprint(sales_lists_bp)
    bp.register_blueprint(sales_rules_bp)
    bp.register_blueprint(sales_people_bp)
    bp.register_blueprint(sales_followup_bp)
    bp.register_blueprint(contracts_bp)
    bp.register_blueprint(campaigns_bp)

    # Refusals (NotAllowed, ContentChanged, AlreadySigned) from any staff view: rolled
    # back and answered 409 once here; a feature blueprint may answer with its own page.
    from admin.operations import handle_refusals

    handle_refusals(bp)


_register()
