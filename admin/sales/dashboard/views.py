"""My day: the staff home (``/admin/`` redirects here).

Follow-ups due today and overdue, my open opportunities by stage, proposals signed and
waiting to be marked won, my tickets near breach; for managers and admins also the
open opportunities nobody owns. The read model is ``portal.domains.sales.my_day``.
"""

from __future__ import annotations

from flask import Blueprint, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from portal.access.staff import sees_everything, staff_tickets_query
from portal.core.db import utcnow
from portal.core.htmx import render_page
from portal.domains.sales.my_day import my_day as read_my_day

bp = Blueprint("sales_dashboard", __name__, url_prefix="/my-day")


@bp.app_template_global()
def opportunity_href(opportunity_id: int) -> str:
    """The opportunity's page (SALES-CORE's ``admin.opportunities.show``); until that
    page exists, its supplier quotations page."""
    try:
        return url_for("admin.opportunities.show", opportunity_id=opportunity_id)
    except BuildError:
        return url_for("admin.sales_quotes.compare", opportunity_id=opportunity_id)


@bp.get("/")
def my_day():
    now = utcnow()
    day = read_my_day(current_user, now, staff_tickets_query(current_user), see_all=sees_everything(current_user))
    return render_page("admin/sales/my_day.html", day=day, now=now, see_all=sees_everything(current_user))
