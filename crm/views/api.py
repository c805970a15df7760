"""The JSON API under /api/v1 (the phone's outbox sends its visits here with the session)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from werkzeug.datastructures import MultiDict

from crm import clock, scope
from crm.extensions import db
from crm.forms.visits import VisitForm
from crm.models import Visit
from crm.views import visits as visit_views
from crm.views.errors import json_error

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.route("/session")
@scope.allow("signed_in")
def session():
    """Who is signed in and a fresh CSRF token: the outbox asks before it sends anything."""
    response = jsonify(user_id=current_user.id, role=current_user.role, csrf_token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/visits", methods=["POST"])
@scope.allow("staff")
def create_visit():
    """Log a visit exactly once: 201 for a new one, 200 with the same visit for a repeat."""
    data = MultiDict(request.form)
    header_key = request.headers.get("Idempotency-Key", "").strip()
    if header_key:
        if data.get("client_key", header_key) != header_key:
            message = _("The Idempotency-Key header and the client_key field differ.")
            return json_error(400, "key_mismatch", message, {"client_key": message})
        data["client_key"] = header_key
    form = VisitForm(formdata=data, meta={"csrf": False})
    if not form.validate():
        fields = {name: errors[0] for name, errors in form.errors.items() if errors}
        return json_error(422, "validation_error", _("Correct the fields marked."), fields)
    outcome = visit_views.log(form)
    db.session.commit()
    response = jsonify(visit=visit_json(outcome.visit), created=outcome.created)
    response.status_code = 201 if outcome.created else 200
    response.headers["Location"] = url_for("factories.show", factory_id=outcome.visit.factory_id)
    return response


def visit_json(visit: Visit) -> dict:
    return {
        "id": visit.id,
        "factory_id": visit.factory_id,
        "client_key": visit.client_key,
        "purpose": visit.purpose,
        "checked_in_at": visit.checked_in_at.isoformat(),
        "received_at": visit.received_at.isoformat(),
        "off_site": visit.off_site,
        "distance_m": visit.distance_m,
        "photos": len(visit.photos),
        "url": url_for("factories.show", factory_id=visit.factory_id, _anchor="visits"),
        "checked_in_local": clock.local(visit.checked_in_at).isoformat(timespec="minutes"),
    }
