"""Form helpers shared by the staff pages."""

from __future__ import annotations

from flask_wtf import FlaskForm

from portal.core.errors import InvalidInput


def attach_errors(form: FlaskForm, error: InvalidInput) -> None:
    """Show a service's field messages on the form (unknown fields: at the top)."""
    for name, message in error.errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
        else:
            form.form_errors.append(message)
