"""Field staff on a phone: today's follow-ups, and their factories near where they stand."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope
from crm.errors import Invalid
from crm.services import followups, geo

bp = Blueprint("field", __name__)


@bp.context_processor
def _helpers() -> dict:
    return {"check_in_url": check_in_url, "format_distance": format_distance}


@bp.route("/today")
@scope.allow("staff")
def today():
    now = clock.now()
    agenda = followups.agenda(current_user, now)
    return render_template("field/today.html", agenda=agenda, today=clock.today(now))


@bp.route("/today/near")
@scope.allow("staff")
def near():
    """The user's factories nearest to the phone's position: a fragment for Today."""
    try:
        lat, lng = geo.parse_position(request.args.get("lat"), request.args.get("lng"))
    except Invalid as error:
        return render_template("field/_near.html", error=error.message, places=[]), 422
    places = geo.nearest(current_user, lat, lng, clock.today())
    return render_template("field/_near.html", error=None, places=places)


def check_in_url(factory_id: int) -> str:
    """Where a check-in at a factory starts: the visit form, once it exists."""
    if "visits.new" in current_app.view_functions:
        return url_for("visits.new", factory=factory_id)
    return f"/visit?factory={factory_id}"


def format_distance(metres: float) -> str:
    """ "80 m", "2.4 km", "35 km": as precise as a person walking or driving needs."""
    if metres < 1000:
        return _("%(distance)s m", distance=format_decimal(max(10, round(metres, -1)), "#,##0"))
    if metres < 10_000:
        return _("%(distance)s km", distance=format_decimal(metres / 1000, "#,##0.0"))
    return _("%(distance)s km", distance=format_decimal(round(metres / 1000), "#,##0"))
