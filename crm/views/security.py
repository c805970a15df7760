"""Deny by default before every view, requests within the app's size limits, and the security
headers on every response."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestHeaderFieldsTooLarge, RequestURITooLarge

from crm import scope
from crm.errors import NotAllowed, NotFound
from crm.values import text_problem

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:{tiles}; "
    "media-src 'self' blob:; worker-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def local_path(target: str | None, under: str = "/") -> str | None:
    """A way back that stays on this site (a path under `under`), or None: never //host or a URL.

    Every "next" and "back" a form carries goes through here, so no page is an open redirect.
    """
    if not target or not target.startswith(under) or target.startswith("//") or "\\" in target:
        return None
    if text_problem(target, newlines=False):  # a line break would split the Location header
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def wants_json() -> bool:
    """The API, and a page's form sent by the phone's outbox (which sends its key as a header)."""
    return request.path.startswith("/api/") or "Idempotency-Key" in request.headers


# The longest request target (path and query) and header field (name, ": ", value) the app
# takes, in bytes. gunicorn's own limits (gunicorn.conf.py) sit above these, so that the
# answer to a request past them is the app's: the JSON error on /api/, the error page elsewhere.
REQUEST_TARGET_MAX = 4094
HEADER_FIELD_MAX = 8190


def within_limits() -> None:
    """414 for a URL longer than the app takes, 431 for a header larger; before anything else."""
    target = request.environ.get("RAW_URI") or request.full_path
    if len(target.encode("utf-8", "surrogateescape")) > REQUEST_TARGET_MAX:
        raise RequestURITooLarge()
    for name, value in request.headers.items():
        if len(name) + 2 + len(value.encode("latin-1", "replace")) > HEADER_FIELD_MAX:
            raise RequestHeaderFieldsTooLarge()


def gate() -> Response | None:
    """Refuse a request whose endpoint's permission the user's role lacks (DESIGN.md "Scope")."""
    if request.endpoint is None:  # no route matched: the 404 handler answers
        return None
    permission = scope.permission_of(current_app.view_functions, request.endpoint)
    if permission is None:
        # A view without a declaration is a bug; refuse rather than expose it.
        current_app.logger.error("endpoint %s declares no permission", request.endpoint)
        raise NotAllowed(_("This page is not available."))
    if scope.holds(current_user, permission):
        return None
    role = scope.role_of(current_user)
    if role == "anonymous":
        if wants_json():
            from crm.views.errors import json_error

            return json_error(401, "unauthorized", _("Sign in first."))
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if role == "factory":
        raise NotFound(_("No such page."))
    raise NotAllowed(_("Your role does not have this page."))


def add_headers(response: Response) -> Response:
    # The operator's tile host, and the admin's where a view draws a map (g.map_tile_origin).
    hosts = (current_app.config.get("CRM_MAP_TILE_ORIGIN"), g.get("map_tile_origin"))
    tiles = " ".join(dict.fromkeys(host for host in hosts if host))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(
        tiles=f" {tiles}" if tiles else ""
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "geolocation=(self), camera=(self), microphone=(self)"
    response.headers["X-Frame-Options"] = "DENY"
    if current_app.config.get("CRM_HOST_NAME"):
        response.headers["X-CRM-Host"] = current_app.config["CRM_HOST_NAME"]
    if current_app.config.get("HSTS"):
        response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    # Pages with a user's data are not kept by shared caches or the back button. The user this
    # request loaded, if any, is asked only whether it is anonymous: no column of theirs is read,
    # since after a commit they would be read again, and a database gone since then would turn
    # the answer the view made into a 500.
    user = g.get("_login_user")
    if user is not None and not user.is_anonymous:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def register(app: Flask) -> None:
    # First of all: before the rate limiter, the bearer token and the session are looked up.
    app.before_request_funcs.setdefault(None, []).insert(0, within_limits)
    app.before_request(gate)
    app.after_request(add_headers)
