"""A prospect added in the street from the phone (issue 27): the form, its save through the
outbox exactly once, and the likely duplicates listed before saving."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.forms.prospects import DuplicateQueryForm, ProspectForm
from crm.models import Belt
from crm.services.factories import prospects
from crm.services.field import field_map, geo
from crm.services.trust import duplicates
from crm.values import id_or_none
from crm.views.errors import save_form
from crm.views.exactly_once import exactly_once
from crm.views.factories import bp
from crm.views.field import _tile_url, format_distance, format_scale
from crm.views.templating import belt_name

# The factories drawn around the pin, so that the rep sees what is there already.
MAP_NEIGHBOURS = 8
# ... within this distance: farther ones would zoom the map out past a useful pin.
MAP_REACH_M = 1_000


@bp.route("/new", methods=["GET", "POST"])
@scope.allow("staff")
@exactly_once("prospect_add")
def new_prospect():
    form = _form()
    if request.method == "GET":
        return _page(form)
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        added = save_form(form, lambda: _add(form))
    except Conflict as error:
        db.session.rollback()
        for name, message in error.fields.items():
            form[name].errors = [*form[name].errors, message]
        return _page(form, found=_found(form), status=409)
    if not added:
        return _page(form, status=422)
    flash(_("%(name)s added. Plan a first visit.", name=added.factory.name), "success")
    return redirect(url_for("factories.show", factory_id=added.factory.id), code=303)


@bp.route("/new/duplicates")
@scope.allow("staff")
def prospect_duplicates():
    """The likely duplicates of what the form holds so far (a fragment for the page)."""
    form = DuplicateQueryForm(request.args)
    valid = form.validate()
    found = _found(form) if valid else []
    return render_template(
        "factories/_duplicates.html", found=found, reason_words=prospects.reason_words()
    ), (200 if valid else 422)


def _add(form: ProspectForm) -> prospects.Added:
    return prospects.add_prospect(
        current_user,
        _values(form),
        contact_name=form.contact_name.data or "",
        contact_phone=form.contact_phone.data or "",
        save_anyway=form.save_anyway.data == "1",
        now=clock.now(),
    )


def _values(form: ProspectForm | DuplicateQueryForm) -> dict:
    values = {
        name: form[name].data or ""
        for name in ("name", "lat", "lng", "credit_code", "category")
        if name in form
    }
    values["belt_id"] = id_or_none(form.belt_id.data)
    return values


def _found(form: ProspectForm | DuplicateQueryForm) -> list[duplicates.Duplicate]:
    candidate = prospects.candidate_of(_values(form), form.contact_phone.data or "")
    return duplicates.find(current_user, candidate, clock.today())


def _form() -> ProspectForm:
    belts = list(db.session.scalars(scope.belts(current_user).order_by(Belt.code)))
    form = ProspectForm(belt_choices=[(belt.id, belt_name(belt)) for belt in belts])
    if request.method == "GET" and belts:
        form.belt_id.data = str(prospects.nearest_belt_id(current_user, None, None))
    form.belts = belts
    return form


def _page(form: ProspectForm, *, found: list | None = None, status: int = 200):
    _tile_url()  # the map arrives in a fragment, but the page's policy decides what it loads
    return render_template(
        "factories/new_prospect.html",
        form=form,
        found=found or [],
        reason_words=prospects.reason_words(),
    ), status


@bp.route("/new/map")
@scope.allow("staff")
def prospect_map():
    """The map around a position, for the rep to move the prospect's pin (a fragment)."""
    try:
        lat, lng = geo.parse_position(request.args.get("lat"), request.args.get("lng"))
    except Invalid as error:
        return render_template("factories/_prospect_map.html", error=error.message), 422
    places = [
        place
        for place in geo.nearest(current_user, lat, lng, clock.today(), limit=MAP_NEIGHBOURS)
        if place.distance_m <= MAP_REACH_M
    ]
    view = field_map.view(
        (lat, lng), [(place.factory.lat, place.factory.lng) for place in places], _tile_url()
    )
    return render_template(
        "factories/_prospect_map.html",
        error=None,
        map=view,
        places=places,
        lat=lat,
        lng=lng,
        format_scale=format_scale,
        format_distance=format_distance,
    )
