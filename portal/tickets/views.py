"""Service tickets on the portal: open one, follow it, reply, close and reopen."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("tickets", __name__, url_prefix="/tickets")
