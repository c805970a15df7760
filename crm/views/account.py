"""The signed-in user's own account: language, password, e-mail choices, signed-in devices, and
their own data to take away."""

from __future__ import annotations

import contextlib

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wsgi import ClosingIterator

from crm import clock, scope
from crm.errors import StorageUnavailable
from crm.extensions import db
from crm.forms.auth import (
    ChangePasswordForm,
    DataExportForm,
    EndSessionsForm,
    LanguageForm,
    LocationConsentForm,
)
from crm.forms.inbox import EmailKindsForm
from crm.services import storage
from crm.services.accounts import auth as auth_service
from crm.services.accounts import credentials
from crm.services.notices import mail
from crm.services.privacy import consent, takeout
from crm.views import files
from crm.views.errors import save_form
from crm.views.templating import current_locale

bp = Blueprint("account", __name__, url_prefix="/account")


def _email_form(posted: bool = False) -> EmailKindsForm:
    """The e-mail choices: as posted, or as stored (never read from another form's post)."""
    choices = mail.choices_for(current_user)
    if posted:
        return EmailKindsForm(choices=choices)
    stored = {"kinds": list(mail.email_kinds(current_user))}
    return EmailKindsForm(formdata=None, choices=choices, data=stored)


def _page(language_form=None, password_form=None, status=200, email_form=None, location_form=None):
    return (
        render_template(
            "account/index.html",
            location_form=location_form or LocationConsentForm(formdata=None),
            location=consent.state(current_user),
            language_form=language_form or LanguageForm(locale=current_user.locale or ""),
            password_form=password_form or ChangePasswordForm(),
            email_form=email_form or _email_form(),
            end_form=EndSessionsForm(),
            sessions=auth_service.live_sessions(current_user),
            current=auth_service.current_session(current_user),
            export_form=DataExportForm(),
            **_data_export(),
        ),
        status,
    )


# The link of the export this browser asked for: its token is shown here only, and stored hashed.
EXPORT_KEY = "data_export"


def _data_export() -> dict:
    shown = takeout.latest(current_user, clock.now())
    asked = session.get(EXPORT_KEY) or {}
    link = None
    if shown is not None and shown.state == "ready" and asked.get("id") == shown.request.id:
        link = url_for("account.download_data", token=asked.get("token"))
    return {"export": shown, "export_link": link}


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


@bp.route("/email", methods=["POST"])
@scope.allow("signed_in")
def email():
    form = _email_form(posted=True)
    saved = form.validate_on_submit() and save_form(
        form, lambda: mail.set_email_kinds(current_user, current_user, form.kinds.data or [])
    )
    if not saved:
        return _page(email_form=form, status=422)
    flash(_("E-mail choices saved."), "success")
    return redirect(url_for("account.index") + "#email", code=303)


@bp.route("/location", methods=["POST"])
@scope.allow("staff")
def location():
    """Give or withdraw consent to precise location at check-in (crm.services.privacy.consent)."""
    form = LocationConsentForm()
    if not form.validate_on_submit():
        return _page(location_form=form, status=422)
    now = clock.now()
    if form.choice.data == "give":
        consent.give(current_user, consent.NOTICE_VERSION, now, now)
        message = _("Location at check-in is on. You can withdraw it here at any time.")
    else:
        consent.withdraw(current_user, now)
        message = _("Location at check-in is off. Your check-ins now carry no position.")
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("account.index") + "#location", code=303)


@bp.route("/password", methods=["POST"])
@scope.allow("signed_in")
def password():
    form = ChangePasswordForm()
    changed = form.validate_on_submit() and save_form(
        form,
        lambda: credentials.change_password(
            current_user, form.current_password.data, form.new_password.data, clock.now()
        ),
    )
    if not changed:
        return _page(password_form=form, status=422)
    flash(
        _("Password changed. Your other devices are signed out and your API tokens revoked."),
        "success",
    )
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


@bp.route("/sessions/<int:session_id>/end", methods=["POST"])
@scope.allow("signed_in")
def end_session(session_id: int):
    """Sign out one device: its cookies stop working, and its outbox is asked to sign in."""
    form = EndSessionsForm()
    if not form.validate_on_submit():
        return _page(status=400)
    # Another user's id, or one already ended, ends nothing and says the same: no hint given.
    if auth_service.end_device_session(current_user, session_id):
        db.session.commit()
        flash(_("That device is signed out."), "success")
    else:
        flash(
            _("That device is not among your signed-in devices any more; nothing was changed."),
            "warning",
        )
    return redirect(url_for("account.index"), code=303)


@bp.route("/data", methods=["POST"])
@scope.allow("signed_in")
def ask_data():
    """Ask for one's own data (a factory user: the factory's) as a zip, made as long work."""
    form = DataExportForm()
    if not form.validate_on_submit():
        return _page(status=400)
    asked, token = takeout.ask(current_user, clock.now(), current_locale())
    db.session.commit()
    session[EXPORT_KEY] = {"id": asked.id, "token": token}
    flash(_("Your data is being gathered. This page shows when it is ready."), "success")
    return redirect(url_for("account.index") + "#data", code=303)


@bp.route("/data/progress")
@scope.allow("signed_in")
def data_progress():
    """The export's progress for the card's script (takeout.js), which reloads once it is done."""
    return jsonify(takeout.progress_of(takeout.latest(current_user, clock.now())))


@bp.route("/data/download")
@scope.allow("signed_in")
def download_data():
    """The zip, once, to the person who asked (the token is in the query: never logged)."""
    token = request.args.get("token", "")
    if not token:
        return redirect(url_for("account.index") + "#data", code=303)
    key, filename = takeout.take(current_user, token, clock.now())
    db.session.commit()
    session.pop(EXPORT_KEY, None)
    # Deleted once sent (from the store, which any host reads): nothing stays behind.
    response = files.stream(key, "application/zip", filename, as_attachment=True, conditional=False)
    kept = storage.store()
    # Not call_on_close: a file's answer passes its body through, without the response's close.
    response.response = ClosingIterator(response.response, lambda: _delete_quietly(kept, key))
    response.headers["Cache-Control"] = "no-store"
    return response


def _delete_quietly(kept: storage.Store, key: str) -> None:
    """After the download: a store that is down now leaves the zip to the daily sweep."""
    with contextlib.suppress(StorageUnavailable):
        kept.delete(key)
