"""The signed-in user's own account: language, password, signed-in devices."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import scope
from crm.extensions import db
from crm.forms.auth import ChangePasswordForm, EndSessionsForm, LanguageForm
from crm.services import auth as auth_service
from crm.views.errors import save_form

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(language_form=None, password_form=None, status=200):
    return (
        render_template(
            "account/index.html",
            language_form=language_form or LanguageForm(locale=current_user.locale or ""),
            password_form=password_form or ChangePasswordForm(),
            end_form=EndSessionsForm(),
            sessions=auth_service.live_sessions(current_user),
            current=auth_service.current_session(current_user),
        ),
        status,
    )


@bp.route("/")
@scope.allow("signed_in")
def index():
    return _page()


@bp.route("/language", methods=["POST"])
@scope.allow("signed_in")
def language():
    form = LanguageForm()
    if not form.validate_on_submit():
        return _page(language_form=form, status=422)
    auth_service.set_locale(current_user, form.locale.data)
    db.session.commit()
    flash(_("Language saved."), "success")
    return redirect(url_for("account.index"), code=303)


@bp.route("/password", methods=["POST"])
@scope.allow("signed_in")
def password():
    form = ChangePasswordForm()
    changed = form.validate_on_submit() and save_form(
        form,
        lambda: auth_service.change_password(
            current_user, form.current_password.data, form.new_password.data
        ),
    )
    if not changed:
        return _page(password_form=form, status=422)
    flash(_("Password changed. Your other devices are signed out."), "success")
    return redirect(url_for("account.index"), code=303)


@bp.route("/sessions/end-others", methods=["POST"])
@scope.allow("signed_in")
def end_other_sessions():
    form = EndSessionsForm()
    if not form.validate_on_submit():
        return _page(status=400)
    count = auth_service.end_sessions(current_user, keep_token=current_user.current_session_token)
    db.session.commit()
    flash(_("Signed out %(count)d other devices.", count=count), "success")
    return redirect(url_for("account.index"), code=303)
