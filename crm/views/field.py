"""Field staff on a phone: today's follow-ups, their factories near where they stand, and the
day's route through the factories due a visit, each on a map that needs no map service."""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask.globals import request_ctx
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope, values
from crm.errors import Invalid
from crm.extensions import db
from crm.services.field import day_route, field_map, followups, geo
from crm.services.install import settings
from crm.views import route_rows
from crm.views.distances import format_distance, format_scale

bp = Blueprint("field", __name__)


@bp.context_processor
def _helpers() -> dict:
    return {
        "check_in_url": check_in_url,
        "format_scale": format_scale,
    }


def _tile_url() -> str:
    """The admin's tile URL (may be empty); its host is then allowed to the page's img-src."""
    url = settings.get("map_tile_url") or ""
    # Read by crm.views.security.add_headers: the pages that draw a map load tiles from here.
    g.map_tile_origin = field_map.tile_origin(url)
    return url


@bp.route("/today")
@scope.allow("staff")
def today():
    now = clock.now()
    agenda = followups.agenda_rows(current_user, now)
    _tile_url()  # the map arrives in a fragment, but the page's policy decides what it loads
    absent = followups.absent_reps(current_user, now)
    return render_template("field/today.html", agenda=agenda, today=clock.today(now), absent=absent)


# The service worker's background copies of pages for offline use (sw.js) carry this header.
KEEPING_HEADER = "X-Offline-Keep"


@bp.before_app_request
def _leave_messages_for_the_page_opened():
    """A page copied in the background for offline use shows no one-time message, and leaves it
    for the page that the user opens next ("Accepted: ..." must not go to the phone's copy)."""
    if request.headers.get(KEEPING_HEADER):
        request_ctx.flashes = []


@bp.after_app_request
def _leave_the_session_cookie_alone(response):
    """A background copy answered after a sign-out must not put back the session cookie of
    before it (Flask saves the session after these hooks: a null session is not saved)."""
    if request.headers.get(KEEPING_HEADER):
        request_ctx._session = current_app.session_interface.make_null_session(current_app)
    return response


@bp.route("/offline")
@scope.allow("staff")
def offline():
    """What the phone shows for a page it has not kept, with no network (the service worker
    keeps this page and answers with it instead of the browser's error or another page)."""
    return render_template("field/offline.html")


@bp.route("/today/near")
@scope.allow("staff")
def near():
    """The user's factories nearest to the phone's position: a fragment for Today."""
    try:
        lat, lng = geo.parse_position(request.args.get("lat"), request.args.get("lng"))
    except Invalid as error:
        return render_template("field/_near.html", error=error.message, places=[]), 422
    places = geo.nearest(current_user, lat, lng, clock.today())
    view = field_map.view(
        (lat, lng), [(place.factory.lat, place.factory.lng) for place in places], _tile_url()
    )
    return render_template("field/_near.html", error=None, places=places, map=view)


@bp.route("/today/route")
@scope.allow("staff")
def route():
    """The day's route: the stops the rep ticked, in a short order from where they stood, with
    navigation links; and the due (and, asked, stale nearby) factories to choose from."""
    lat_arg, lng_arg = request.args.get("lat"), request.args.get("lng")
    position, error = None, None
    if lat_arg is not None or lng_arg is not None:
        try:
            position = geo.parse_position(lat_arg, lng_arg)
        except Invalid as refused:
            error = refused.message
    return _route_page(position, bool(request.args.get("nearby")), error)


def _route_page(position, nearby: bool, error: str | None, chosen=None, status: int = 200):
    now = clock.now()
    plan = day_route.current(current_user, now)
    route = day_route.day_route(current_user, now, plan) if plan else None
    view = None
    if route and route.stops:
        view = field_map.view(
            route.start,
            [(stop.leg.place.lat, stop.leg.place.lng) for stop in route.stops],
            _tile_url(),
        )
    if chosen is None:
        chosen = route.chosen_ids if route else None
    choice = day_route.choice(current_user, now, position, nearby)
    return render_template(
        "field/route.html",
        route=route,
        map=view,
        choice=choice,
        kept=day_route.kept_apart(route, choice) if route else [],
        stop_rows=route_rows.stop_rows(route, format_distance) if route else [],
        choice_row=route_rows.ChoiceRows(chosen, format_distance),
        chosen=chosen,
        nearby=nearby,
        position=position,
        error=error,
    ), (422 if error and status == 200 else status)


@bp.route("/today/route", methods=["POST"])
@scope.allow("staff")
def plan_route():
    """Keep the ticked stops as today's route, ordered from the phone's position (if sent)."""
    try:
        ids = [values.read_id(raw) for raw in request.form.getlist("factory")]
    except ValueError as refused:
        return _route_page(None, False, str(refused), chosen=set(), status=422)
    start = None
    if request.form.get("lat") or request.form.get("lng"):
        try:
            start = geo.parse_position(request.form.get("lat"), request.form.get("lng"))
        except Invalid as refused:
            return _route_page(None, False, refused.message, chosen=set(ids), status=422)
    try:
        day_route.choose(current_user, clock.now(), ids, start)
    except Invalid as refused:
        db.session.rollback()
        return _route_page(start, False, refused.message, chosen=set(ids), status=422)
    db.session.commit()
    return redirect(url_for("field.route") + "#route-plan", code=303)


@bp.route("/today/route/move", methods=["POST"])
@scope.allow("staff")
def move_stop():
    """Move one stop of today's route a place up or down."""
    step = {"up": -1, "down": 1}.get(request.form.get("direction", ""))
    try:
        factory_id = values.read_id(request.form.get("factory"))
    except ValueError as refused:
        return _route_page(None, False, str(refused), status=422)
    if step is None:
        return _route_page(None, False, _("Choose up or down."), status=422)
    day_route.move_stop(current_user, clock.now(), factory_id, step)
    db.session.commit()
    return redirect(url_for("field.route") + f"#stop-{factory_id}", code=303)


def check_in_url(factory_id: int) -> str:
    """Where a check-in at a factory starts: the visit form, once it exists."""
    if "visits.new" in current_app.view_functions:
        return url_for("visits.new", factory=factory_id)
    return f"/visit?factory={factory_id}"


# My week's page is a route of this blueprint, in a module of its own.
from crm.views import my_week as _my_week  # noqa: E402, F401
