"""For load balancers and browsers: /healthz, /readyz, /favicon.ico, the service worker and
the web app manifest."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, jsonify, send_from_directory, url_for
from flask_babel import gettext as _

from crm import assets, scope
from crm.services.install import health
from crm.views.templating import current_locale

bp = Blueprint("health", __name__)

# The top bar's blue and the page's white (crm/static/css/app.css: --accent-strong, --surface).
THEME_COLOUR = "#1e3a8a"
BACKGROUND_COLOUR = "#ffffff"


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
    """The service worker, served from the root so that it may control every page, told the
    hashed URLs of the files it keeps (crm.assets)."""
    script = assets.assets().files["js/sw.js"].data.decode()
    response = Response(assets.service_worker_prelude() + script, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.route("/manifest.webmanifest")
@scope.allow("public")
def manifest():
    """The web app manifest: the home-screen app's name, colours and icons (issue 26).

    `/` sends each role to its own home (crm.views.auth.index), and a signed-out phone to the
    sign-in page, so one start URL serves every role.
    """
    icons = [
        {
            "src": url_for("static", filename=f"img/icons/{kind}-{size}.png"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": purpose,
        }
        for kind, purpose in (("icon", "any"), ("maskable", "maskable"))
        for size in (192, 512)
    ]
    body = {
        "id": "/",
        "name": _("Factory Growth CRM"),
        "short_name": _("Growth CRM"),
        "lang": "zh-Hans" if current_locale().startswith("zh") else "en",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": icons,
    }
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    response.vary.add("Accept-Language")
    return response
