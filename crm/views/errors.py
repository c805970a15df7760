"""One place turns errors into answers: JSON under /api/, a fragment for htmx, a page otherwise."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import (
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from crm.errors import DomainError, Invalid, Locked, StorageUnavailable
from crm.extensions import db, login_manager
from crm.views.security import wants_json

T = TypeVar("T")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    414: "uri_too_long",
    422: "validation_error",
    429: "rate_limited",
    431: "headers_too_large",
    500: "server_error",
    503: "unavailable",
}


def json_error(status: int, code: str, message: str, fields: dict | None = None) -> Response:
    fields = {name: str(text) for name, text in (fields or {}).items()}
    response = jsonify({"error": {"code": code, "message": str(message), "fields": fields}})
    response.status_code = status
    return response


def _titles() -> dict[int, str]:
    return {
        400: _("The request could not be understood"),
        403: _("You may not do this"),
        404: _("Page not found"),
        405: _("Not allowed here"),
        409: _("This clashes with what is stored"),
        413: _("The upload is too large"),
        414: _("The address is too long"),
        422: _("Please correct the form"),
        429: _("Too many attempts"),
        431: _("The request's headers are too large"),
        500: _("Something went wrong on our side"),
        503: _("Temporarily unavailable"),
    }


def _advice(status: int) -> str:
    return {
        400: _("Go back, reload the page and try again."),
        403: _("Your role does not allow this. Ask your manager or an admin if you need it."),
        404: _("The page or record does not exist, or is not yours to see."),
        405: _("Go back and use the page's own buttons."),
        409: _("Reload the page to see the current state, then try again."),
        413: _("Choose smaller files (photos are shrunk on the phone before sending)."),
        414: _("Shorten the address: send fewer or shorter filters."),
        422: _("Correct the fields marked and send again."),
        429: _("Wait a little and try again."),
        431: _("Sign out and in again, or clear this site's cookies, then try again."),
        500: _("The error was logged. Try again in a moment; nothing you sent was kept half-done."),
        503: _("Try again in a minute."),
    }.get(status, "")


def render_error(status: int, code: str, message: str = "", fields: dict | None = None) -> Response:
    if wants_json():
        return json_error(status, code, message or _titles().get(status, code), fields)
    template = "errors/_error.html" if request.headers.get("HX-Request") else "errors/error.html"
    body = render_template(
        template,
        status=status,
        title=_titles().get(status, _("Error")),
        message=message,
        advice=_advice(status),
    )
    return Response(body, status=status, mimetype="text/html")


def save_form(form: FlaskForm, save: Callable[[], T]) -> T | None:
    """Run a form's service call and commit; a refusal puts its messages by the form's fields.

    Every form view goes through here, so a rule's message reaches the field it names the
    same way on every page (and the request commits once, at the edge).
    """
    try:
        result = save()
    except Invalid as error:
        db.session.rollback()
        for name, message in error.fields.items():
            if name in form:
                form[name].errors = [*form[name].errors, message]
            else:
                form.form_errors.append(message)
        if not error.fields:
            form.form_errors.append(error.message)
        return None
    db.session.commit()
    return result


def _domain_error(error: DomainError) -> Response:
    db.session.rollback()
    response = render_error(error.status, error.code, error.message, error.fields)
    if isinstance(error, Locked | StorageUnavailable):
        response.headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, StorageUnavailable):
        current_app.logger.warning("storage unavailable (%s): %s", request.path, error.reason)
        response.headers["Cache-Control"] = "no-store"
    return response


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    response = render_error(status, CODES.get(status, "error"), "")
    if status == 429 and error.description:
        response.headers.setdefault("Retry-After", "60")
    if status == 405:
        response.headers["Allow"] = ", ".join(error.valid_methods or [])
    return response


def _csrf_error(error: CSRFError) -> Response:
    # Nothing was changed; say how to put it right.
    return render_error(
        400,
        "csrf_failed",
        _("The form expired or was sent from elsewhere. Reload the page and send it again."),
    )


# How long a client waits before it sends again while the database is out of reach.
DATABASE_RETRY_AFTER = 5
# The database is out of reach (stopped, restarting, failing over), the connection to it was
# dropped, or every pooled connection is busy: the request may succeed if sent again.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


def _database_unavailable(error: Exception) -> Response:
    """503 with Retry-After, never a 500: nothing was stored, and sending again will work.

    The transaction is rolled back, so nothing is kept half-done. The answer is made
    without the database: the page is drawn as for a signed-out visitor (the signed-in
    user, expired by the rollback, and the inbox count in the page's header would both ask
    the database again). The pool replaces dropped connections (pool_pre_ping), so the
    app serves again as soon as the database answers.
    """
    current_app.logger.warning("database unavailable (%s): %s", request.path, error)
    with contextlib.suppress(SQLAlchemyError):
        db.session.rollback()
    g._login_user = login_manager.anonymous_user()
    message = _("The database cannot be reached for a moment. Nothing was changed.")
    try:
        response = render_error(503, "unavailable", message)
    except SQLAlchemyError:  # a template that still asked the database: say it plainly
        text = f"{_('Temporarily unavailable')}. {message}"
        response = Response(text, 503, mimetype="text/plain")
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response


def _end_session(error: BaseException | None) -> None:
    """Close the request's session; a connection the database dropped under it is discarded.

    Runs before Flask-SQLAlchemy's own teardown (registered after it). A request that has
    answered can still find, at its end, that a restarting database terminated its
    connection: the rollback that closes the session then fails. That is no error of the
    request (its answer is made), so the connection is invalidated and the pool replaces it.
    """
    try:
        db.session.remove()
    except SQLAlchemyError as problem:
        current_app.logger.warning("database connection lost at the end of a request: %s", problem)
        with contextlib.suppress(SQLAlchemyError):
            db.session.registry().invalidate()
        db.session.registry.clear()


def _server_error(error: Exception) -> Response:
    db.session.rollback()
    return render_error(500, "server_error", "")


def register(app: Flask) -> None:
    app.register_error_handler(DomainError, _domain_error)
    for kind in DATABASE_UNAVAILABLE:
        app.register_error_handler(kind, _database_unavailable)
    app.teardown_appcontext(_end_session)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(500, _server_error)
