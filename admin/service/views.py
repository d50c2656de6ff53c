"""Service setup for admins and managers: SLAs, service-hours calendars, ticket
statuses, issue types; and the first-response report."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("service", __name__, url_prefix="/service")
