"""The JSON API under /api/v1: who is calling (session with CSRF, or a bearer token), rate
limits per caller, and the session and visit routes the phone's outbox uses.

The other records' routes live in crm/views/api/*.py on this same blueprint; the OpenAPI
document that describes them all is built by crm.views.api.spec.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from crm import clock, scope
from crm.errors import DomainError, Invalid, NotFound
from crm.extensions import csrf, db, limiter
from crm.forms.visits import VisitForm
from crm.models import ApiToken, User
from crm.services.accounts import api_tokens
from crm.services.install import settings
from crm.views import visits as visit_views
from crm.views.api.as_json import visit_json
from crm.views.api.shapes import ID_MAX, parse_body, parse_query
from crm.views.api.spec import bodies, operations
from crm.views.auth import after_response
from crm.views.errors import json_error

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PREFIX = "/api/v1/"

# Session requests are checked for CSRF below (after the caller is known); a bearer
# request carries no cookie a browser could send for someone else, so it needs none.
csrf.exempt(bp)


# --- who is calling ----------------------------------------------------------------------


def bearer_token() -> ApiToken | None:
    """The working token of this request's `Authorization: Bearer`, looked up once per request."""
    if "api_bearer" not in g:
        g.api_bearer = None
        scheme, _space, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and request.path.startswith(PREFIX):
            g.api_bearer = api_tokens.authenticate(secret.strip(), clock.now())
    return g.api_bearer


def _load_bearer_user():
    """On /api/v1 only: a bearer token signs its user in for this request, or answers 401."""
    if not request.path.startswith(PREFIX) or "Authorization" not in request.headers:
        return None
    token = bearer_token()
    if token is None:
        response = json_error(
            401,
            "invalid_token",
            _("The API token is unknown, revoked or expired, or its user is not active."),
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    used = api_tokens.use_statement(token, clock.now())
    if used is not None:
        after_response(used)  # last_used_at, written at most once a minute, even on a GET
    g._login_user = token.user  # Flask-Login's current_user for this request only
    return None


@bp.record_once
def _install(state) -> None:
    # Registered with the blueprint, so that it runs before the app's permission gate.
    state.app.before_request(_load_bearer_user)


@bp.before_request
def _check_csrf():
    if bearer_token() is not None:
        return
    config = current_app.config
    if config.get("WTF_CSRF_ENABLED", True) and request.method in config["WTF_CSRF_METHODS"]:
        csrf.protect()


@bp.before_request
def _read_query() -> None:
    """Every operation's query is read here, by the declaration the document shows, before
    its view runs: a parameter the document forbids is refused even where a view ignores it."""
    if request.endpoint in _QUERIES:
        g.api_query = parse_query(_QUERIES[request.endpoint], request.args)


_QUERIES = {operation.endpoint: operation.query for operation in operations.OPERATIONS}


def read_query() -> dict[str, Any]:
    """This request's query parameters by name, as its operation declares them."""
    return g.api_query


@bp.url_value_preprocessor
def _ids_in_range(endpoint, values) -> None:
    """An id larger than any stored one names no record (and must not reach the database)."""
    if any(isinstance(value, int) and value > ID_MAX for value in (values or {}).values()):
        raise NotFound(_("This record does not exist, or is not yours to see."))


def _rate_limit() -> str:
    # Who calls, first: their token's (or session's) query reads crm.cache's version as well,
    # so that the setting read next asks no statement of its own.
    _rate_key()
    return current_app.config.get("CRM_API_RATE_LIMIT") or settings.get("rate_limit_api")


def _rate_key() -> str:
    """Per token for integrations, per user for the app's own pages, per address otherwise."""
    token = bearer_token()
    if token is not None:
        return f"api-token:{token.id}"
    if getattr(current_user, "is_authenticated", False):
        return f"api-user:{current_user.id}"
    return f"api-address:{get_remote_address()}"


limiter.limit(_rate_limit, key_func=_rate_key)(bp)


# --- small helpers every API module shares -------------------------------------------------


def actor() -> User:
    return current_user._get_current_object()


def read_body() -> Any:
    """The request's JSON; a form-encoded body is read as an object of text fields.

    Only a body that is not JSON is a 400; JSON that is no object (null as much as an
    array) is refused as a shape by parse_body, 422 naming `body`.
    """
    if request.is_json:
        try:
            return request.get_json()
        # Nested thousands deep: the parser gives up, not the app.
        except (BadRequest, RecursionError):
            raise DomainError(
                _("The body is not valid JSON."), fields={"body": _("Not JSON.")}
            ) from None
    return {name: value for name, value in request.form.items() if name != "csrf_token"}


def answer(payload: dict, status: int = 200, location: str | None = None):
    response = jsonify(payload)
    response.status_code = status
    if location:
        response.headers["Location"] = location
    return response


# --- the outbox's routes -------------------------------------------------------------------


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
    data = _visit_fields()
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
    _check_ids(form)
    outcome = visit_views.log(form)
    # The answer is read before the commit, which expires what the request wrote: read after,
    # the visit and its parts came back from the database (two round trips on PostgreSQL).
    body, factory_id = visit_json(outcome.visit), outcome.visit.factory_id
    db.session.commit()
    response = jsonify(visit=body, created=outcome.created)
    response.status_code = 201 if outcome.created else 200
    response.headers["Location"] = url_for("factories.show", factory_id=factory_id)
    return response


def _check_ids(form: VisitForm) -> None:
    """Ids beyond any stored one are refused by their field, not sent to the database."""
    fields = {}
    for name in ("factory_id", "follow_up_id", "contact_id"):
        value = form[name].data
        if value is not None and not 0 < value <= ID_MAX:
            fields[name] = _("No such record.")
    if any(not 0 < task_id <= ID_MAX for task_id in form.task_ids.data or []):
        fields["task_ids"] = _("No such record.")
    if fields:
        raise Invalid(_("Correct the fields marked."), fields=fields)


def _visit_fields() -> MultiDict:
    """The visit as sent: a multipart form (the outbox, with photos) or a JSON object.

    A JSON object is checked by its JSON types first, as every other operation's body; its
    values then reach the visit form as the text a form would have sent.
    """
    if not request.is_json:
        return MultiDict(request.form)
    data = read_body()
    header_key = request.headers.get("Idempotency-Key", "").strip()
    if isinstance(data, dict) and header_key and "client_key" not in data:
        # The header alone carries the key as well as the field would (the document's text).
        data = {**data, "client_key": header_key}
    values = parse_body(bodies.VISIT_FIELDS, data)
    fields = MultiDict()
    for name in values:
        sent = data[name]
        for item in sent if isinstance(sent, list) else [sent]:
            fields.add(name, item if isinstance(item, str) else str(item))
    return fields


# The other modules add their routes to `bp` when imported.
from crm.views.api import docs, factories, records, stages  # noqa: E402, F401
