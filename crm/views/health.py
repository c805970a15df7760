"""For load balancers and browsers: /healthz, /readyz, /favicon.ico, the service worker."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, send_from_directory

from crm import scope
from crm.services.install import health

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@scope.allow("public")
def healthz():
    return jsonify(status="ok")


@bp.route("/readyz")
@scope.allow("public")
def readyz():
    problem = health.readiness_problem()
    if problem:
        response = jsonify(status="unavailable", problem=problem)
        response.status_code = 503
        response.headers["Retry-After"] = "10"
        return response
    return jsonify(status="ok")


@bp.route("/favicon.ico")
@scope.allow("public")
def favicon():
    return send_from_directory(
        current_app.static_folder,
        "img/favicon.ico",
        mimetype="image/vnd.microsoft.icon",
        max_age=86400,
    )


@bp.route("/sw.js")
@scope.allow("public")
def service_worker():
    """The service worker, served from the root so that it may control every page."""
    response = send_from_directory(
        current_app.static_folder, "js/sw.js", mimetype="text/javascript", max_age=0
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response
