"""The admin console."""

from __future__ import annotations

from flask import Blueprint, render_template

from crm import scope
from crm.services.accounts import users

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
@scope.allow("admin")
def index():
    return render_template("admin/index.html", overview=users.overview())


# The stage, jobs, team channel, users, teams and belts, and audit pages live in their own
# modules, on this blueprint.
from crm.views import (  # noqa: E402,F401
    admin_audit,
    admin_channels,
    admin_jobs,
    admin_settings,
    admin_stages,
    admin_teams,
    admin_users,
)
