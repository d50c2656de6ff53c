"""Portal sign-in forms. They only validate shape; the service holds the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from portal.domains.identity.sign_in import MAX_EMAIL, normalise_code, normalise_email

# Shape only: the address is looked up as typed (lower case) among the contacts', so a
# stricter syntax check would only refuse addresses staff were able to enter.
EMAIL_VALIDATORS = [
    DataRequired(_l("Enter your email address.")),
    Length(max=MAX_EMAIL),
    Regexp(r"^[^@\s]+@[^@\s]+$", message=_l("Enter an email address like name@example.com.")),
]


class SignInForm(FlaskForm):
    """The email a contact wants a sign-in link and code at."""

    email = EmailField(_l("Your email address"), filters=[normalise_email], validators=EMAIL_VALIDATORS)


class SignInCodeForm(FlaskForm):
    """The code from the email; the address travels in a hidden field."""

    email = HiddenField(filters=[normalise_email], validators=EMAIL_VALIDATORS)
    code = StringField(
        _l("Code from the email"),
        filters=[normalise_code],
        validators=[
            DataRequired(_l("Type the 6-digit code from the email.")),
            Regexp(r"^[0-9]{6}$", message=_l("The code is 6 digits, like 123456.")),
        ],
    )


class SignOutForm(FlaskForm):
    """Sign out: nothing but the CSRF token."""
