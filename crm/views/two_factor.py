"""Two-step sign-in on the user's own account: set up, recovery codes, turn off; and the gate
that keeps an admin or manager who must enrol on the enrolment page until they have."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from crm import clock, scope
from crm.extensions import db
from crm.forms.two_factor import EnrolForm, PasswordCheckForm, StartForm
from crm.services.accounts import auth as auth_service
from crm.services.accounts import two_factor
from crm.views.errors import json_error, save_form
from crm.views.security import wants_json

bp = Blueprint("two_factor", __name__, url_prefix="/account/two-step")

# What a user who must still set up the second factor may reach: the set-up, sign-out, the
# static files and the health blueprint's (favicon, the service worker's script, probes).
OPEN_WHILE_ENROLLING = frozenset(
    {
        "two_factor.index",
        "two_factor.start",
        "two_factor.setup",
        "two_factor.enrol",
        "auth.logout",
        "static",
    }
)


@bp.before_app_request
def enrolment_gate():
    """An admin or manager who must use a second factor sets it up before anything else."""
    endpoint = request.endpoint or ""
    if not current_user.is_authenticated or endpoint in OPEN_WHILE_ENROLLING:
        return None
    if endpoint.startswith("health.") or not current_user.current_session_token:
        # No sign-in session: an API token's request (its creation asked for the factor).
        return None
    if request.endpoint is None or two_factor.session_satisfied(current_user):
        return None
    if two_factor.enrolled(current_user):
        # A session from before the factor was set up: only a full sign-in may continue.
        auth_service.end_session(current_user.current_session_token or "")
        db.session.commit()
        logout_user()
        if wants_json():
            return json_error(401, "unauthorized", _("Sign in again."))
        return redirect(url_for("auth.login"))
    if wants_json():
        return json_error(401, "unauthorized", _("Set up two-step sign-in first."))
    return redirect(url_for("two_factor.index"))


@bp.app_template_global()
def two_step_status() -> dict:
    return {
        "enrolled": two_factor.enrolled(current_user),
        "required": two_factor.required_for(current_user),
    }


def _start_page(form: EnrolForm | None = None, status: int = 200):
    """The Start button: a GET never makes a secret (a link or a prefetch must not)."""
    return render_template(
        "two_factor/start.html",
        form=form or EnrolForm(formdata=None),
        start_form=StartForm(formdata=None),
        required=two_factor.required_for(current_user),
    ), status


def _enrol_page(form: EnrolForm | None = None, status: int = 200):
    """The QR code of the secret the user's last Start made; without one, the Start page."""
    factor = two_factor.pending_enrolment(current_user)
    if factor is None:
        return _start_page(form, status)
    uri = two_factor.provisioning_uri(current_user, factor)
    page = render_template(
        "two_factor/enrol.html",
        form=form or EnrolForm(formdata=None),
        start_form=StartForm(formdata=None),
        qr=two_factor.qr_svg(uri, _("QR code for your authenticator app")),
        secret=" ".join(factor.secret[i : i + 4] for i in range(0, len(factor.secret), 4)),
        required=two_factor.required_for(current_user),
    )
    return page, status, {"Cache-Control": "no-store"}  # the page holds the secret


def _status_page(form: PasswordCheckForm | None = None, status: int = 200, action: str = ""):
    return (
        render_template(
            "two_factor/status.html",
            codes_form=form if action == "codes" else PasswordCheckForm(),
            off_form=form if action == "off" else PasswordCheckForm(),
            codes_left=two_factor.recovery_codes_left(current_user),
            required=two_factor.required_for(current_user),
        ),
        status,
    )


def _codes_page(codes: list[str]):
    return render_template("two_factor/recovery_codes.html", codes=codes)


@bp.route("/")
@scope.allow("signed_in")
def index():
    if two_factor.enrolled(current_user):
        return _status_page()
    return _start_page()


@bp.route("/start", methods=["POST"])
@scope.allow("signed_in")
def start():
    """A new secret for the authenticator app, replacing one of an earlier, unfinished start."""
    if two_factor.enrolled(current_user):
        return redirect(url_for("two_factor.index"), code=303)
    if not StartForm().validate_on_submit():
        return _start_page(status=400)
    two_factor.start_enrolment(current_user, clock.now())
    db.session.commit()
    return redirect(url_for("two_factor.setup"), code=303)


@bp.route("/setup")
@scope.allow("signed_in")
def setup():
    if two_factor.enrolled(current_user) or two_factor.pending_enrolment(current_user) is None:
        return redirect(url_for("two_factor.index"), code=303)
    return _enrol_page()


@bp.route("/", methods=["POST"])
@scope.allow("signed_in")
def enrol():
    if two_factor.enrolled(current_user):
        return redirect(url_for("two_factor.index"), code=303)
    form = EnrolForm()
    codes = form.validate_on_submit() and save_form(
        form, lambda: two_factor.confirm_enrolment(current_user, form.code.data, clock.now())
    )
    if not codes:
        return _enrol_page(form, status=422)
    # Shown once, in this answer only (never stored in clear, never cached: no-store).
    return _codes_page(codes)


@bp.route("/recovery-codes", methods=["POST"])
@scope.allow("signed_in")
def recovery_codes():
    if not two_factor.enrolled(current_user):
        return redirect(url_for("two_factor.index"), code=303)
    form = PasswordCheckForm()
    codes = form.validate_on_submit() and save_form(
        form,
        lambda: two_factor.renew_recovery_codes(current_user, form.password.data, clock.now()),
    )
    if not codes:
        return _status_page(form, status=422, action="codes")
    return _codes_page(codes)


@bp.route("/off", methods=["POST"])
@scope.allow("signed_in")
def turn_off():
    if not two_factor.enrolled(current_user):
        return redirect(url_for("two_factor.index"), code=303)
    form = PasswordCheckForm()
    done = form.validate_on_submit() and save_form(
        form, lambda: two_factor.turn_off(current_user, form.password.data) or True
    )
    if not done:
        return _status_page(form, status=422, action="off")
    flash(_("Two-step sign-in is off."), "success")
    return redirect(url_for("account.index"), code=303)
