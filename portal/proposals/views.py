"""The customer's proposal: read, tick optional services, sign."""

from __future__ import annotations

from flask import Blueprint, make_response, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.access import LinkUnusable, contact_proposal, contact_proposal_stamp
from portal.access.contacts import current_grant
from portal.core.db import utcnow
from portal.core.error_pages import CSRF_RERENDER
from portal.core.errors import AlreadySigned, ContentChanged, InvalidInput, NotAllowed
from portal.core.extensions import db, limiter
from portal.core.htmx import redirect_after_post, render_page, wants_partial
from portal.core.pagecache import cached_block, cached_page
from portal.domains.proposals import evidence
from portal.domains.proposals import operations as service
from portal.domains.proposals import signals as proposal_signals
from portal.domains.proposals.certificates import certificate_of
from portal.domains.proposals.models import ProposalStatus
from portal.domains.proposals.selection import decode_line_ids, forget_selections, keep_selection
from portal.domains.proposals.totals import compute_totals, parse_option_ids
from portal.links.views import link_unusable_page
from portal.proposals.forms import ProposalSignForm
from portal.proposals.page import ProposalPage, ProposalPageKey, build_page, page_key

bp = Blueprint("proposals", __name__, url_prefix="/p/proposals")

TEMPLATE = "proposals/show.html"


@bp.errorhandler(LinkUnusable)
def link_unusable(error: LinkUnusable):
    return link_unusable_page(error.link)


def _context(page: ProposalPage, form=None, errors=None, notice: str | None = None) -> dict:
    """What the template reads: the view model, plus this request's form, errors and notice."""
    return dict(
        page=page,
        totals=page.totals,
        signed_total=page.signature is not None,
        form=form or ProposalSignForm(formdata=None),
        errors=errors or {},
        notice=notice,
    )


def _page(key: ProposalPageKey, status: int = 200, block: str | None = "proposal", form=None, errors=None, notice=None):
    """The page rendered for this request only (a form echoed back), never cached."""
    context = _context(build_page(key), form=form, errors=errors, notice=notice)
    return render_page(TEMPLATE, block=block, status=status, **context)


def _signed_in() -> bool:
    grant = current_grant()
    return bool(grant and grant.signed_in)


def _key(proposal_id: int, selected=None, **flags) -> ProposalPageKey:
    stamp, access = contact_proposal_stamp(proposal_id)
    return page_key(stamp, access, signed_in=_signed_in(), selected=selected, **flags)


@bp.get("/<int:proposal_id>")
def show(proposal_id: int):
    """The proposal as the contact sees it, from the render cache when unchanged."""
    stamp, access = contact_proposal_stamp(proposal_id)
    key = page_key(
        stamp,
        access,
        signed_in=_signed_in(),
        just_signed=bool(request.args.get("signed")),
        refreshed=bool(request.args.get("refreshed")),
    )
    _note_view(stamp, access)
    _announce_view(stamp, access.contact_id)
    return cached_page(key, TEMPLATE, context=lambda: _context(build_page(key)))


SEEN_KEY = "evidence_seen"


def _note_view(stamp, access) -> None:
    """The evidence log's "page viewed": once per version, link and browser session
    (remembered in the session cookie), so reloads and the render cache stay cheap.
    An audit record, not a change: the page shown is the same either way."""
    mark = f"{stamp.id}:{stamp.content_version}:{access.link_id or 0}"
    seen = session.get(SEEN_KEY)
    seen = seen if isinstance(seen, list) else []
    if mark in seen:
        return
    evidence.record_safely(
        stamp.id,
        evidence.Kind.PAGE_VIEWED,
        contact_id=access.contact_id,
        link_id=access.link_id,
        data={"content_version": stamp.content_version, "status": stamp.status},
    )
    db.session.commit()
    session[SEEN_KEY] = [*seen[-19:], mark]


VIEWED_KEY = "viewed_on"


def _announce_view(stamp, contact_id: int) -> None:
    """A customer's view of a proposal that quotes for an opportunity is customer
    activity (the sales domain resets its auto-close count on it): announced to the
    receivers once a day per proposal and browser session (remembered in the session
    cookie), whose few writes commit here. A proposal of no opportunity, or a view
    already announced today, stays a pure read: the cached page costs one query."""
    if stamp.opportunity_id is None or not proposal_signals.proposal_viewed.receivers:
        return
    mark = f"{stamp.id}:{utcnow().date().isoformat()}"
    announced = session.get(VIEWED_KEY)
    announced = announced if isinstance(announced, list) else []
    if mark in announced:
        return
    proposal_signals.proposal_viewed.send(stamp.id, contact_id=contact_id, opportunity_id=stamp.opportunity_id)
    db.session.commit()
    session[VIEWED_KEY] = [*announced[-19:], mark]


@bp.post("/<int:proposal_id>/options")
def options(proposal_id: int):
    """Totals for a selection, which is kept for this contact until signing. htmx gets
    the totals block; a plain post the whole page."""
    stamp, access = contact_proposal_stamp(proposal_id)
    signable = stamp.status == ProposalStatus.DELIVERED and stamp.signed_at is None
    # The hot path of ticking boxes: amounts come from the per-version cache.
    lines = service.pricing_lines(stamp)
    selected, unknown = parse_option_ids(request.form.getlist("option"), lines)
    errors = {"options": _("Some of the chosen options are not part of this proposal.")} if unknown else {}
    # The kept selection came with the access check: the same choice again (a double
    # tap, a re-sent request) writes nothing.
    kept = decode_line_ids(access.page_facts[1]) if access.page_facts else None
    if signable and not unknown and kept != tuple(sorted(set(selected))):
        keep_selection(proposal_id, access.contact_id, selected)
        evidence.record_options(proposal_id, access.contact_id, access.link_id, kept, selected)
        db.session.commit()
    if wants_partial() and signable:
        if unknown:
            return render_page(
                TEMPLATE,
                block="totals",
                status=422,
                signed_total=False,
                errors=errors,
                totals=compute_totals(lines, stamp.currency, selected),
            )
        key = ("totals", stamp, tuple(selected), str(get_locale()))
        return cached_block(
            key,
            TEMPLATE,
            "totals",
            lambda: dict(signed_total=False, errors={}, totals=compute_totals(lines, stamp.currency, selected)),
        )
    key = page_key(stamp, access, signed_in=_signed_in(), selected=tuple(selected) if signable else None)
    return _page(key, status=422 if unknown else 200, block="totals", form=ProposalSignForm(), errors=errors)


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
        consent_version=form.consent_version.data or None,
        ip=request.remote_addr,
        user_agent=request.user_agent.string,
    )
    selected, _unknown = parse_option_ids(raw_options, proposal.lines)
    try:
        service.sign_proposal(proposal, access.contact, access.link, data)
    except AlreadySigned:
        db.session.rollback()
        return _already_signed(proposal_id, repeat=(access.contact_id, data.signer_name, tuple(selected)))
    except ContentChanged:
        db.session.rollback()
        return _page(
            _key(proposal_id, selected=tuple(selected)),
            status=409,
            form=form,
            notice=_("This proposal was changed after you opened it. Please review the new version, then sign again."),
        )
    except InvalidInput as error:
        db.session.rollback()
        if "signature" in error.errors:
            form.signature_png.data = ""  # not echoed back (it can be megabytes); the pad redraws the strokes
        return _page(_key(proposal_id, selected=tuple(selected)), status=422, form=form, errors=error.errors)
    except NotAllowed as error:
        db.session.rollback()
        return _page(_key(proposal_id), status=409, notice=str(error))
    forget_selections(proposal_id)
    db.session.commit()
    return redirect_after_post(url_for(".show", proposal_id=proposal_id, signed=1))


def _already_signed(proposal_id: int, repeat: tuple | None = None):
    """A Sign from a stale tab (or a second device): say plainly who signed, when and
    with which options, instead of quietly showing a signature the contact did not make.

    The same submit arriving twice (a double tap: same contact, name and options) is
    answered like the first one, with the signed view."""
    page = build_page(_key(proposal_id))
    signature = page.signature
    same = False
    if repeat is not None and signature is not None:
        contact_id, name, selected = repeat
        same = (contact_id, " ".join(name.split()), tuple(selected)) == (
            signature.contact_id,
            signature.signer_name,
            signature.selected_ids,
        )
    if signature is None or same:
        return redirect_after_post(url_for(".show", proposal_id=proposal_id))
    return render_page(
        "proposals/already_signed.html",
        block="proposal",
        status=409,
        page=page,
        options=page.line_descriptions(page.signature.selected_ids) if page.signature else [],
    )


def _sign_after_csrf_expired():
    """Re-show the filled-in sign form with a fresh token instead of losing the drawing."""
    proposal_id = request.view_args.get("proposal_id")
    try:
        key = _key(proposal_id)
    except LinkUnusable as error:
        return link_unusable_page(error.link)
    if key.stamp.signed_at:
        return _already_signed(proposal_id)
    lines = service.pricing_lines(key.stamp)
    selected, _unknown = parse_option_ids(request.form.getlist("option"), lines)
    return _page(
        _key(proposal_id, selected=tuple(selected)),
        status=422,
        form=ProposalSignForm(),
        notice=_(
            "This page was open for a long time, so we need you to press Sign once more. "
            "Your name and signature are kept."
        ),
    )


def _options_after_csrf_expired():
    """An option tapped on a page open longer than the token lives: nothing is kept
    (the request is not trusted), and the page comes back with a fresh token and says
    so, rather than leaving a ticked box beside a total that ignores it. htmx is told
    to reload the page (``HX-Redirect`` is acted on before any swap); a plain post gets
    the page itself (422, as every refused form)."""
    proposal_id = request.view_args.get("proposal_id")
    try:
        key = _key(proposal_id, refreshed=True)
    except LinkUnusable as error:
        return link_unusable_page(error.link)
    if wants_partial():
        response = make_response(_("This page was open a long time, so we refreshed it."), 422)
        response.headers["HX-Redirect"] = url_for(".show", proposal_id=proposal_id, refreshed=1)
        return response
    return _page(key, status=422, block=None)


CSRF_RERENDER["proposals.sign"] = _sign_after_csrf_expired
CSRF_RERENDER["proposals.options"] = _options_after_csrf_expired


@bp.get("/<int:proposal_id>/certificate.pdf")
def certificate(proposal_id: int):
    """The sealed certificate of the contact's signed proposal (made by the worker a
    moment after signing: until then a page says it is on its way)."""
    proposal, _access = contact_proposal(proposal_id)
    found = certificate_of(proposal.id) if proposal.signed_at else None
    if found is None:
        return render_page(
            "proposals/certificate_pending.html", status=404, proposal=proposal, signed=proposal.signed_at is not None
        )
    return certificate_download(found.pdf, f"{proposal.label} certificate {found.public_id}.pdf")


def certificate_download(pdf: bytes, filename: str):
    """A stored PDF as a download, never sniffed or cached (shared by the admin view)."""
    response = make_response(pdf)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:proposal_id>/signature.png")
def signature_image(proposal_id: int):
    """The contact's own signature, for the signed view."""
    from flask import abort

    proposal, _access = contact_proposal(proposal_id)
    if proposal.signature is None:
        abort(404)
    response = make_response(proposal.signature.image_png)
    response.mimetype = "image/png"
    response.headers["Cache-Control"] = "private, no-store"  # a shared phone keeps nothing after sign-out
    return response
