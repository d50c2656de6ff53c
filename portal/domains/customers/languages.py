"""A contact's language without a request: for their mail, and for the staff page that
says which language they get and why (portal/core/i18n.py has the rungs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from portal.core.i18n import LocaleChoice, resolve_locale

if TYPE_CHECKING:
    from portal.domains.customers.models import Contact


def contact_language(contact: Contact, default: str | None = None) -> LocaleChoice:
    """The contact's preference, else the organization's default, else ``default`` (the
    language of the page the contact asked from, for mail they asked for themselves),
    else the instance's: no browser to ask, mail is rendered when it is queued."""
    organization = contact.organization
    return resolve_locale(
        contact=contact.preferred_language,
        organization=organization.default_language if organization is not None else None,
        default=default,
    )


def mail_for_contact(contact: Contact, default: str | None = None) -> dict[str, str]:
    """``queue_mail``'s locale and zone for a message to this contact."""
    return {"locale": contact_language(contact, default).locale, "timezone": contact.timezone or "UTC"}
