"""The customer's proposal: read, tick optional services, sign."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _

from portal.access import LinkUnusable, contact_proposal, contact_proposal_stamp
from portal.access.contacts import current_grant
from portal.core.error_pages import CSRF_RERENDER
from portal.core.errors import AlreadySigned, ContentChanged, InvalidInput, NotAllowed
from portal.core.extensions import db, limiter
from portal.core.htmx import redirect_after_post, render_page, wants_partial
from portal.core.pagecache import cached_block, cached_page
from portal.domains.proposals import operations as service
from portal.domains.proposals.models import Proposal, ProposalStatus
from portal.domains.proposals.totals import compute_totals, parse_option_ids
from portal.links.views import link_unusable_page
from portal.proposals.forms import ProposalSignForm

bp = Blueprint("proposals", __name__, url_prefix="/p/proposals")

TEMPLATE = "proposals/show.html"


@bp.errorhandler(LinkUnusable)
def link_unusable(error: LinkUnusable):
    return link_unusable_page(error.link)


def _context(
    proposal: Proposal, access, form=None, selected=(), errors=None, notice: str | None = None, signed_in: bool = False
) -> dict:
    totals = service.totals_of(proposal, selected)
    signature = proposal.signature if proposal.signed_at else None
    if signature is not None:
        totals = service.totals_of(proposal, service.signed_selection(signature))
    return dict(
        proposal=proposal,
        signed_in=signed_in,
        contact=access.contact,
        totals=totals,
        signature=signature,
        form=form or ProposalSignForm(formdata=None),
        seen_hash=service.content_hash(proposal),
        consent_text=service.consent_text(),
        errors=errors or {},
        notice=notice,
        can_sign=proposal.status == ProposalStatus.DELIVERED and not proposal.signed_at,
        newer_revision=service.latest_revision_id(proposal) if proposal.status == ProposalStatus.SUPERSEDED else None,
    )


def _page(proposal: Proposal, access, status: int = 200, block: str | None = "proposal", **context):
    return render_page(TEMPLATE, block=block, status=status, **_context(proposal, access, **context))


@bp.get("/<int:proposal_id>")
def show(proposal_id: int):
    """The proposal as the contact sees it, from the render cache when unchanged."""
    stamp, access = contact_proposal_stamp(proposal_id)
    grant = current_grant()
    signed_in = bool(grant and grant.signed_in)
    key = (
        "proposal",
        stamp,
        access.contact_id,
        access.contact_name,
        access.organization_name,
        signed_in,
        str(get_locale()),
        str(get_timezone()),
        bool(request.args.get("signed")),
    )

    def render():
        proposal, _access = contact_proposal(proposal_id)
        return _context(proposal, access, signed_in=signed_in)

    return cached_page(key, TEMPLATE, context=render)


@bp.post("/<int:proposal_id>/options")
def options(proposal_id: int):
    """Totals for a selection. htmx gets the totals block; a plain post the whole page."""
    stamp, _access = contact_proposal_stamp(proposal_id)
    if wants_partial() and stamp.status == ProposalStatus.DELIVERED and stamp.signed_at is None:
        # The hot path of ticking boxes: amounts come from the per-version cache.
        lines = service.pricing_lines(stamp)
        selected, unknown = parse_option_ids(request.form.getlist("option"), lines)
        if unknown:
            errors = {"options": _("Some of the chosen options are not part of this proposal.")}
            return render_page(
                TEMPLATE,
                block="totals",
                status=422,
                signature=None,
                errors=errors,
                totals=compute_totals(lines, stamp.currency, selected),
            )
        key = ("totals", stamp, tuple(selected), str(get_locale()))
        return cached_block(
            key,
            TEMPLATE,
            "totals",
            lambda: dict(signature=None, errors={}, totals=compute_totals(lines, stamp.currency, selected)),
        )
    proposal, access = contact_proposal(proposal_id)
    selected, unknown = parse_option_ids(request.form.getlist("option"), proposal.lines)
    errors = {"options": _("Some of the chosen options are not part of this proposal.")} if unknown else {}
    form = ProposalSignForm()
    return _page(
        proposal, access, status=422 if unknown else 200, block="totals", form=form, selected=selected, errors=errors
    )


@bp.post("/<int:proposal_id>/sign")
@limiter.limit("30 per hour")
def sign(proposal_id: int):
    proposal, access = contact_proposal(proposal_id)
    form = ProposalSignForm()
    raw_options = request.form.getlist("option")
    data = service.SignInput(
        option_ids=raw_options,
        signer_name=form.signer_name.data or "",
        consent=bool(form.consent.data),
        signature_png=form.signature_png.data or "",
        strokes=form.strokes.data or "",
        seen_hash=form.seen_hash.data or "",
        ip=request.remote_addr,
        user_agent=request.user_agent.string,
    )
    selected, _unknown = parse_option_ids(raw_options, proposal.lines)
    try:
        service.sign_proposal(proposal, access.contact, access.link, data)
    except AlreadySigned:
        db.session.rollback()
        return redirect_after_post(url_for(".show", proposal_id=proposal_id))
    except ContentChanged:
        db.session.rollback()
        proposal, access = contact_proposal(proposal_id)
        return _page(
            proposal,
            access,
            status=409,
            form=form,
            selected=selected,
            notice=_("This proposal was changed after you opened it. Please review the new version, then sign again."),
        )
    except InvalidInput as error:
        db.session.rollback()
        proposal, access = contact_proposal(proposal_id)  # the rollback expired what was loaded
        if "signature" in error.errors:
            form.signature_png.data = ""  # not echoed back (it can be megabytes); the pad redraws the strokes
        return _page(proposal, access, status=422, form=form, selected=selected, errors=error.errors)
    except NotAllowed as error:
        db.session.rollback()
        proposal, access = contact_proposal(proposal_id)
        return _page(proposal, access, status=409, notice=str(error))
    db.session.commit()
    return redirect_after_post(url_for(".show", proposal_id=proposal_id, signed=1))


def _sign_after_csrf_expired():
    """Re-show the filled-in sign form with a fresh token instead of losing the drawing."""
    proposal_id = request.view_args.get("proposal_id")
    try:
        proposal, access = contact_proposal(proposal_id)
    except LinkUnusable as error:
        return link_unusable_page(error.link)
    if proposal.signed_at:
        return redirect_after_post(url_for(".show", proposal_id=proposal_id))
    selected, _unknown = parse_option_ids(request.form.getlist("option"), proposal.lines)
    form = ProposalSignForm()
    return _page(
        proposal,
        access,
        status=422,
        form=form,
        selected=selected,
        notice=_(
            "This page was open for a long time, so we need you to press Sign once more. "
            "Your name and signature are kept."
        ),
    )


CSRF_RERENDER["proposals.sign"] = _sign_after_csrf_expired


@bp.get("/<int:proposal_id>/signature.png")
def signature_image(proposal_id: int):
    """The contact's own signature, for the signed view."""
    from flask import abort, make_response

    proposal, _access = contact_proposal(proposal_id)
    if proposal.signature is None:
        abort(404)
    response = make_response(proposal.signature.image_png)
    response.mimetype = "image/png"
    response.headers["Cache-Control"] = "private, no-store"  # a shared phone keeps nothing after sign-out
    return response
