"""Domain errors the services raise and the views turn into pages and statuses."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule violation a user can cause."""


class InvalidInput(DomainError):
    """Bad input: a message per field, shown on the form with HTTP 422."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotAllowed(DomainError):
    """The object is in a state where this action makes no sense (HTTP 409)."""


class ContentChanged(DomainError):
    """The proposal changed after the contact loaded it: they must review again."""


class AlreadySigned(DomainError):
    """A second submit of a signature; the first one stands."""
