"""The ticket queue and the ticket page for staff."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("tickets", __name__, url_prefix="/tickets")
