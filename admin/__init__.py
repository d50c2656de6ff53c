"""The staff area at /admin. Login is required before every view except an allow-list."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user

from portal.core.extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

# Views reachable without a staff login; everything else is denied by default.
PUBLIC_ENDPOINTS = {"admin.auth.login"}


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
    return redirect(url_for("admin.proposals.index"))


def _register() -> None:
    from admin.customers.contacts.views import bp as contacts_bp
    from admin.customers.organizations.views import bp as organizations_bp
    from admin.customers.sites.views import bp as sites_bp
    from admin.identity.auth.views import bp as auth_bp
    from admin.mail.outbox.views import bp as outbox_bp
    from admin.proposals.editor.views import bp as proposals_bp
    from admin.proposals.evidence.views import bp as evidence_bp
    from admin.service_desk.reports.views import bp as reports_bp
    from admin.service_desk.setup.views import bp as service_bp
    from admin.service_desk.tickets.views import bp as tickets_bp

    bp.register_blueprint(auth_bp)
    bp.register_blueprint(contacts_bp)
    bp.register_blueprint(organizations_bp)
    bp.register_blueprint(proposals_bp)
    bp.register_blueprint(evidence_bp)
    bp.register_blueprint(outbox_bp)
    bp.register_blueprint(tickets_bp)
    bp.register_blueprint(service_bp)
    bp.register_blueprint(reports_bp)
    bp.register_blueprint(sites_bp)

    # Refusals (NotAllowed, ContentChanged, AlreadySigned) from any staff view: rolled
    # back and answered 409 once here; a feature blueprint may answer with its own page.
    from admin.operations import handle_refusals

    handle_refusals(bp)


_register()
