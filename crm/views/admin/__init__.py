"""The admin console."""

from __future__ import annotations

from flask import Blueprint, render_template

from crm import clock, scope
from crm.services.accounts import users as user_service
from crm.services.calendar import holidays

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
@scope.allow("admin")
def index():
    return render_template(
        "admin/index.html",
        overview=user_service.overview(),
        missing_year=holidays.missing_year(clock.today()),
    )


# The stage, jobs, team channel, users, teams and belts, and audit pages live in their own
# modules, on this blueprint.
from crm.views.admin import (  # noqa: E402,F401
    audit,
    calendar,
    channels,
    erasure,
    jobs,
    privacy,
    settings,
    stages,
    teams,
    users,
)
