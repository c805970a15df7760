"""Sign-in and sign-out, the user loader and the language chosen for each request."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy.sql import Executable

from crm import clock, scope
from crm.errors import Invalid, Locked, NotFound
from crm.extensions import db, limiter
from crm.forms.auth import ForgotPasswordForm, InvitationForm, LoginForm, ResetPasswordForm
from crm.forms.two_factor import SignInCodeForm
from crm.models import User
from crm.models.user import EMAIL_MAX
from crm.services.accounts import auth as auth_service
from crm.services.accounts import password_resets, two_factor
from crm.services.install import settings
from crm.services.portal import invitations
from crm.transactions import bookkeep
from crm.views.errors import save_form
from crm.views.security import local_path

bp = Blueprint("auth", __name__)

HOMES = {
    "rep": "field.today",
    "manager": "pipeline.index",
    "factory": "portal.index",
    "admin": "admin.index",
}


def home_url(user: User) -> str:
    return url_for(HOMES[user.role])


def load_user_from_session(token: str) -> User | None:
    now = clock.now()
    user = auth_service.load_session(token, now)
    if user is not None and user.current_sign_in.seen_due:
        after_response(auth_service.seen_statement(user.current_sign_in.session_id, now))
    return user


def after_response(statement: Executable) -> None:
    """Bookkeeping ("last seen", "last used") to write once the request's work is done."""
    g.setdefault("bookkeeping", []).append(statement)


@bp.after_app_request
def _write_bookkeeping(response: Response) -> Response:
    """Written on its own, after the work and before the answer leaves (a streamed answer, which
    still reads, leaves it to a later request); a write that cannot be made is skipped
    (crm.transactions.bookkeep), so that it never fails the request."""
    statements = g.pop("bookkeeping", [])
    if not response.is_streamed:
        for statement in statements:
            bookkeep(statement)
    return response


def locale_for_request() -> str:
    if not has_request_context():  # the CLI and scheduled jobs speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale:
        return current_user.locale
    for language, _quality in request.accept_languages:
        tag = language.lower()
        if tag.startswith("zh"):
            return "zh_Hans"
        if tag.startswith("en"):
            return "en"
    return "en"


def _login_limit() -> str:
    return current_app.config["CRM_LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@scope.allow("public")
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm(next=request.args.get("next", ""), remember=settings.get("stay_signed_in"))
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                user = auth_service.authenticate(
                    form.login.data, form.password.data, request.remote_addr or ""
                )
            except Locked as error:
                db.session.commit()
                form.form_errors.append(error.message)
                status = 429
            except Invalid as error:
                db.session.commit()  # the failed attempt counts toward the lockout
                form.form_errors.append(error.message)
                status = 422
            else:
                if two_factor.enrolled(user):
                    _hold_for_second_factor(user, form.remember.data, form.next.data)
                    db.session.commit()
                    return redirect(url_for("auth.second_factor"), code=303)
                auth_service.start_session(
                    user, request.user_agent.string, request.remote_addr or ""
                )
                db.session.commit()
                login_user(user, remember=form.remember.data)
                return redirect(local_path(form.next.data) or home_url(user), code=303)
        else:
            status = 422
    signed_out = request.method == "GET" and request.args.get("out") == "1"
    return render_template("auth/login.html", form=form, signed_out=signed_out), status


# The password was right; the session is made only once the second factor is (signed cookie).
PENDING = "second_factor_pending"
PENDING_FOR_SECONDS = 300


def _hold_for_second_factor(user: User, remember: bool, next_path: str | None) -> None:
    session[PENDING] = {
        "user": user.id,
        "login": two_factor.login_key(user),
        "remember": bool(remember),
        "next": local_path(next_path) or "",
        "at": int(clock.now().timestamp()),
    }


def _pending() -> dict | None:
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    if clock.now().timestamp() - pending.get("at", 0) > PENDING_FOR_SECONDS:
        session.pop(PENDING, None)
        return None
    return pending


@bp.route("/login/code", methods=["GET", "POST"])
@scope.allow("public")
@limiter.limit(_login_limit, methods=["POST"])
def second_factor():
    """The second step of sign-in: a code from the app, or a recovery code."""
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    pending = _pending()
    if pending is None:
        flash(_("Sign in with your password first; the code is asked for next."), "info")
        return redirect(url_for("auth.login"))
    form = SignInCodeForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            user = db.session.get(User, pending["user"])
            now = clock.now()
            try:
                kind = two_factor.check_sign_in_code(
                    user, pending["login"], form.code.data, request.remote_addr or "", now
                )
            except Locked as error:
                db.session.commit()
                session.pop(PENDING, None)
                form.form_errors.append(error.message)
                status = 429
            except Invalid as error:
                db.session.commit()  # the failed code counts toward the lockout
                form.code.errors = [*form.code.errors, *error.fields.values()]
            else:
                session.pop(PENDING, None)
                auth_service.start_session(
                    user, request.user_agent.string, request.remote_addr or "", now
                )
                db.session.commit()
                login_user(user, remember=pending["remember"])
                if kind == "recovery":
                    left = two_factor.recovery_codes_left(user)
                    flash(_("Recovery code used; %(count)d left.", count=left), "warning")
                return redirect(pending["next"] or home_url(user), code=303)
    return render_template("auth/second_factor.html", form=form), status


def _forgot_limit() -> str:
    return current_app.config["CRM_FORGOT_RATE_LIMIT"]


def _forgot_login_key() -> str:
    """Whose reset link is asked for: one count per user, by e-mail or phone however typed
    (an unknown login counts by itself, and is answered alike)."""
    typed = request.form.get("login", "")[:EMAIL_MAX]
    # Runs before the form is checked: a NUL byte must not reach PostgreSQL from here.
    user = auth_service.find_user_by_login(typed) if "\x00" not in typed else None
    if user is not None:
        return f"forgot:user:{user.id}"
    return "forgot:login:" + (auth_service.normalise_login(typed)[:EMAIL_MAX] or "-")


@bp.route("/forgot", methods=["GET", "POST"])
@scope.allow("public")
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_forgot_limit, key_func=_forgot_login_key, methods=["POST"])
def forgot_password():
    """Ask for a reset link by login; the answer is the same whether the login exists or not."""
    form = ForgotPasswordForm()
    sent = False
    if form.validate_on_submit():
        user = auth_service.find_user_by_login(form.login.data)
        if user is not None and user.active:
            password_resets.issue(user, by=None)
        db.session.commit()
        sent = True
    status = 422 if request.method == "POST" and not sent else 200
    return render_template("auth/forgot.html", form=form, sent=sent), status


@bp.route("/logout", methods=["POST"])
@scope.allow("signed_in")
def logout():
    if current_user.current_session_token:
        auth_service.end_session(current_user.current_session_token)
        db.session.commit()
    logout_user()
    # Said by the address, not a one-time message in the cookie: a request of the page signed out
    # from that was still on its way could answer with the cookie of before, and the message was
    # then lost (seen once in CI, the sign-in browser test).
    response = redirect(url_for("auth.login", out=1), code=303)
    # Clears cached pages; the outbox (IndexedDB) stays: its items carry their user.
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


@bp.route("/")
@scope.allow("public")
def index():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@scope.allow("public")
@limiter.limit(_login_limit, methods=["POST"])
def accept_invitation(token: str):
    """A colleague of a factory makes a login from the owner's link, then is signed in."""
    invitation = invitations.find(token, clock.now())
    form = InvitationForm()
    user = form.validate_on_submit() and save_form(
        form,
        lambda: invitations.accept(
            token,
            form.name.data,
            form.login.data,
            form.password.data,
            locale_for_request(),
            clock.now(),
        ),
    )
    if not user:
        status = 422 if request.method == "POST" else 200
        page = render_template("auth/invitation.html", form=form, factory=invitation.factory)
        return page, status
    if current_user.is_authenticated:
        logout_user()
    auth_service.start_session(user, request.user_agent.string, request.remote_addr or "")
    db.session.commit()
    login_user(user)
    flash(_("Welcome. This is your factory's growth checklist."), "success")
    return redirect(home_url(user), code=303)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@scope.allow("public")
@limiter.limit(_login_limit, methods=["POST"])
def reset_password(token: str):
    """A new password from a one-time link; a used, expired or altered link changes nothing."""
    try:
        reset = password_resets.find(token)
    except NotFound as error:
        page = render_template("auth/reset_gone.html", status=error.status, message=error.message)
        return page, error.status
    form = ResetPasswordForm()
    user = form.validate_on_submit() and save_form(
        form, lambda: password_resets.consume(token, form.password.data)
    )
    if not user:
        status = 422 if request.method == "POST" else 200
        return render_template(
            "auth/reset_password.html", form=form, reset=reset, token=token
        ), status
    if current_user.is_authenticated:
        logout_user()
    flash(_("Your new password is saved. Sign in with it."), "success")
    return redirect(url_for("auth.login"), code=303)
