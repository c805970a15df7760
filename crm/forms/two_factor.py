"""Forms of two-step sign-in: the code at sign-in, enrolment, and the admin's security page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from crm.forms import IdField, NamedLength, PageForm
from crm.services.accounts.auth import PASSWORD_MAX

CODE_MAX = 20  # a recovery code with its dash and some spaces typed in


class SignInCodeForm(PageForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(_l("Enter the code from your app.")), NamedLength(max=CODE_MAX)],
        render_kw={
            "autocomplete": "one-time-code",
            "autocapitalize": "none",
            "spellcheck": "false",
        },
        description=_l("The 6 digits your authenticator app shows, or one of your recovery codes."),
    )


class StartForm(PageForm):
    """Starts (or starts again) the set-up: a new key for the app; no fields but the CSRF token."""


class EnrolForm(PageForm):
    code = StringField(
        _l("Code from the app"),
        validators=[DataRequired(_l("Enter the code from your app.")), NamedLength(max=CODE_MAX)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
        description=_l("6 digits; a new one every 30 seconds."),
    )


class PasswordCheckForm(PageForm):
    """Turning the second factor off or making new recovery codes asks for the password."""

    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(_l("Enter your password.")), NamedLength(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )


class RequireForm(PageForm):
    required = BooleanField(_l("Admins and managers must use two-step sign-in"))


class ResetForm(PageForm):
    user_id = IdField(
        _l("User number"),
        validators=[
            InputRequired(_l("Give the number of the user whose second factor to reset.")),
            NumberRange(min=1, message=_l("A user number is a whole number from 1.")),
        ],
    )
