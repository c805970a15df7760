"""Check-in and visit log: the form (one cached shell for the phone), its factory list, photos
and the voice note (staff only, through the scope check)."""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope
from crm.errors import NotFound
from crm.extensions import db
from crm.forms.visits import VisitForm
from crm.models import VisitPhoto
from crm.services.field import photos, visit_form, visits, voice_notes
from crm.services.install import settings
from crm.values import id_or_none
from crm.views.errors import save_form
from crm.views.files import photo_response, voice_note_response
from crm.views.templating import current_locale

bp = Blueprint("visits", __name__)


@bp.route("/visit")
@scope.allow("staff")
def new():
    raw = request.args.get("factory")
    factory_id = id_or_none(raw)
    purpose = None
    if raw and factory_id is None:
        # A number no factory has answers as one out of scope does.
        raise NotFound(_("This record does not exist, or is not yours to see."))
    if factory_id is not None:
        factory = scope.get_factory(current_user, factory_id, clock.today())  # out of scope: 404
        # The likely purpose is chosen already: a tap fewer for the common visit.
        first = factory.status == "prospect" and factory.last_visit_at is None
        purpose = "first_contact" if first else "follow_up"
    form = VisitForm(formdata=None, factory_id=factory_id, purpose=purpose, next="7")
    return _page(form)


@bp.route("/visit", methods=["POST"])
@scope.allow("staff")
def create():
    """The form sent without the page script (the script sends through the API's outbox)."""
    form = VisitForm()
    outcome = form.validate_on_submit() and save_form(form, lambda: log(form))
    if not outcome:
        return _page(form, status=422)
    flash(_("Visit saved."), "success")
    return redirect(url_for("factories.show", factory_id=outcome.visit.factory_id), code=303)


@bp.route("/visit/factories.json")
@scope.allow("staff")
def factory_list():
    """The user's factories with their open tasks: the phone caches it for the offline form."""
    items = visit_form.choices(current_user, clock.today())
    locale = current_locale()
    response = jsonify(
        user_id=current_user.id, factories=[visit_form.as_json(c, locale) for c in items]
    )
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.route("/visits/<int:visit_id>/photos/<int:photo_id>")
@scope.allow("staff")
def photo(visit_id: int, photo_id: int):
    visit = scope.get_visit(current_user, visit_id, clock.today())
    record = db.session.get(VisitPhoto, photo_id)
    if record is None or record.visit_id != visit.id:
        abort(404)
    return photo_response(
        record.stored_name,
        f"visit-{visit.id}-photo-{record.id}.jpg",
        thumbnail=request.args.get("size") == "thumb",
    )


@bp.route("/visits/<int:visit_id>/voice")
@scope.allow("staff")
def voice_note(visit_id: int):
    visit = scope.get_visit(current_user, visit_id, clock.today())
    if visit.voice_note is None:
        abort(404)
    return voice_note_response(visit.voice_note, f"visit-{visit.id}-voice-note")


def log(form: VisitForm) -> visits.Outcome:
    """Log the form's visit for the signed-in user: the page's and the API's one path."""
    factory = scope.get_factory(current_user, form.factory_id.data, clock.today())
    uploads = photos.read_uploads(request.files.getlist(form.photos.name))
    voice_note = voice_notes.read_upload(request.files.get(form.voice_note.name))
    sent = form.submission(uploads, voice_note)
    return visits.log_visit(current_user, factory, sent, clock.now(), form.factory_id.data)


def _page(form: VisitForm, status: int = 200):
    today = clock.today()
    choices = visit_form.choices(current_user, today, form.factory_id.data)
    chosen = next((c for c in choices if c.id == form.factory_id.data), None)
    # The page script makes a new key each time the form is shown (the phone caches this
    # page); without the script, this one serves, and a refused form keeps its key.
    form.client_key.data = form.client_key.data or uuid.uuid4().hex
    return (
        render_template(
            "visits/new.html",
            form=form,
            choices=choices,
            chosen=chosen,
            # The radius of the off-site rule (crm.services.field.visits._place), for its warning.
            checkin_radius_m=settings.get("checkin_radius_m"),
            # What the location notice says of its retention (crm.services.privacy.processing).
            positions_kept_days=settings.get("position_retention_days"),
        ),
        status,
    )


# The pages of a rep's own visit register on this blueprint: its correction, a dispute's answer.
from crm.views import visit_answers as _visit_answers  # noqa: E402, F401
from crm.views import visit_corrections as _visit_corrections  # noqa: E402, F401
