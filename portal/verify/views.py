"""The public verify page: is this a genuine signed proposal of this instance?

Anyone may use it (no session, rate-limited per address). An upload is read up to
``VERIFY_MAX_BYTES``, hashed, searched for our certificate marker, and forgotten:
nothing sent is stored or logged, and the file is never parsed as a PDF (a PDF bomb
is only bytes to hash). A typed certificate id is looked up. The answer names the
proposal, its revision, when and by whom (name only) it was signed, and whether its
evidence log is intact.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from portal.core.extensions import limiter
from portal.core.htmx import render_page
from portal.domains.proposals import certificates
from portal.verify.forms import VerifyForm

bp = Blueprint("verify", __name__, url_prefix="/verify")

TEMPLATE = "verify/index.html"


def _megabytes() -> str:
    return f"{current_app.config['VERIFY_MAX_BYTES'] / (1024 * 1024):g}"


def _page(form: VerifyForm, status: int = 200, verdict=None, error: str | None = None):
    return render_page(TEMPLATE, status=status, form=form, verdict=verdict, error=error, max_mb=_megabytes())


@bp.errorhandler(413)
@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error):
    return _page(
        VerifyForm(formdata=None),
        status=413,
        error=_(
            "That file is too large to be one of our certificates (at most %(mb)s MB). Nothing was kept.",
            mb=_megabytes(),
        ),
    )


@bp.get("")
@limiter.limit("60 per minute")
def index():
    return _page(VerifyForm(formdata=None))


@bp.post("")
@limiter.limit("10 per minute")
@limiter.limit("100 per hour")
def check():
    form = VerifyForm()
    limit = current_app.config["VERIFY_MAX_BYTES"]
    upload = request.files.get("document")
    typed = (form.certificate_id.data or "").strip()
    if upload is not None and upload.filename:
        data = upload.stream.read(limit + 1)
        upload.close()
        if len(data) > limit:
            return too_large(None)
        if not data:
            return _page(form, status=422, error=_("That file is empty. Choose the certificate's PDF."))
        verdict = certificates.lookup_upload(data)
        del data  # hashed and searched; nothing of it is kept
        if verdict.outcome == "not_pdf":
            return _page(form, status=422, error=_("That file is not a PDF. Choose the certificate's PDF file."))
        return _page(form, verdict=verdict)
    if typed:
        public_id = certificates.normalise_id(typed)
        if public_id is None or len(typed) > 200:
            form.certificate_id.data = typed[:200]
            return _page(
                form,
                status=422,
                error=_(
                    "That is not a certificate id: it looks like PC-ABCD-EFGH-JKLM-NPQR (letters A-Z, digits 2-7)."
                ),
            )
        return _page(form, verdict=certificates.lookup_id(public_id))
    return _page(form, status=422, error=_("Choose a certificate's PDF, or type its certificate id."))
