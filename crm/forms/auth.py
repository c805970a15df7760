"""Forms of sign-in and of the user's own account."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired

from crm.forms import NamedLength, PageForm
from crm.models.user import EMAIL_MAX, NAME_MAX
from crm.services.accounts.auth import PASSWORD_MAX

LOGIN_REQUIRED = _l("Enter your e-mail or mobile number.")
PASSWORD_REQUIRED = _l("Enter your password.")


class LoginForm(PageForm):
    login = StringField(
        _l("E-mail or mobile number"),
        validators=[DataRequired(LOGIN_REQUIRED), NamedLength(max=EMAIL_MAX)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(PASSWORD_REQUIRED), NamedLength(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )
    # Ticked or not at first by the install's setting "stay_signed_in" (crm.views.auth.login).
    remember = BooleanField(
        _l("Keep me signed in on this device"),
        description=_l("Untick it on a shared phone or computer."),
    )
    next = HiddenField()


class ForgotPasswordForm(PageForm):
    login = StringField(
        _l("E-mail or mobile number"),
        validators=[DataRequired(LOGIN_REQUIRED), NamedLength(max=EMAIL_MAX)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
        description=_l("The login you sign in with."),
    )


class ChangePasswordForm(PageForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(PASSWORD_REQUIRED), NamedLength(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Enter a new password.")), NamedLength(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "new-password"},
        description=_l("At least 10 characters; not a common password."),
    )


class LanguageForm(PageForm):
    locale = SelectField(
        _l("Language"),
        choices=[
            SelectChoice("", _l("As my browser")),
            SelectChoice("en", "English"),
            SelectChoice("zh_Hans", "简体中文"),
        ],
        validate_choice=True,
    )


class EndSessionsForm(PageForm):
    """Signs out every other device; no fields but the CSRF token."""


class DataExportForm(PageForm):
    """Asks for the user's own data to take away; no fields but the CSRF token."""


class LocationConsentForm(PageForm):
    """Give or withdraw consent to precise location at check-in (the account page)."""

    choice = SelectField(
        choices=[SelectChoice("give", "give"), SelectChoice("withdraw", "withdraw")],
        validators=[InputRequired(_l("Choose to allow location or to withdraw consent."))],
        validate_choice=True,
    )


class InvitationForm(PageForm):
    """A colleague's own login, made from an owner's invitation link."""

    name = StringField(
        _l("Your name"),
        validators=[DataRequired(_l("Enter your name.")), NamedLength(max=NAME_MAX)],
        render_kw={"autocomplete": "name"},
    )
    login = StringField(
        _l("E-mail or mobile number"),
        validators=[DataRequired(LOGIN_REQUIRED), NamedLength(max=EMAIL_MAX)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
        description=_l("You sign in with this."),
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(_l("Choose a password.")), NamedLength(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "new-password"},
        description=_l("At least 10 characters; not a common password."),
    )


class InviteForm(PageForm):
    """Makes a new invitation link; no fields but the CSRF token."""


class ResetPasswordForm(PageForm):
    """A new password chosen from a one-time reset link."""

    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Enter a new password.")), NamedLength(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "new-password"},
        description=_l("At least 10 characters; not a common password."),
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(_l("Enter the new password a second time.")),
            EqualTo("password", _l("The two passwords differ; type the same one twice.")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
