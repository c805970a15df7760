"""The stops of the day's route as markup: the row template (field/_route_stop.html) rendered
once a page around markers, each stop's values then put in their places, escaped.

A route may hold 200 stops. Drawn through Jinja, each stop's row took some 650 calls of
lookups, escapes and replaced sentences, two thirds of the page's time; filled here it takes a
few dozen. The markup stays in its template; only the pieces whose shape changes from stop to
stop are made below, each from its own translated words.
"""

from __future__ import annotations

import re

from flask import render_template
from flask_babel import gettext as _
from markupsafe import Markup, escape

from crm.services.field.day_route import DayRoute
from crm.views.kept import RowUrl
from crm.views.templating import stage_badge

FIELDS = (
    "id",
    "number",
    "url",
    "name",
    "badge",
    "leg",
    "about",
    "hours",
    "late",
    "navigate_to",
    "amap",
    "baidu",
    "device",
    "check_in",
    "move_up",
    "move_down",
    "up_disabled",
    "down_disabled",
)
# A marker no value holds: NUL never appears in a rendered page.
_MARKER = re.compile("\x00([a-z_]+)\x00")
_DISABLED = Markup(" disabled")
_CHECKED = Markup(" checked")


class RowTemplate:
    """A template rendered once with a marker for each field, filled row by row."""

    def __init__(self, template: str, fields: tuple[str, ...], **context: object) -> None:
        markers = {name: f"\x00{name}\x00" for name in fields}
        html = render_template(template, row=markers, **context)
        # Text, then a field's name, then text ...: the names sit at the odd places.
        self.parts = _MARKER.split(html)

    def __call__(self, values: dict[str, object]) -> Markup:
        parts = self.parts
        filled = [
            part if index % 2 == 0 else str(escape(values[part]))
            for index, part in enumerate(parts)
        ]
        return Markup("".join(filled))


class ChoiceRows:
    """The factories to tick for the route, a row each: ticked as in the kept plan, or with no
    plan yet, as the caller offers them (the due ones ticked, the nearby ones an offer)."""

    def __init__(self, chosen: set[int] | None, format_distance) -> None:
        fields = ("id", "name", "badge", "checked", "note")
        self.row = RowTemplate("field/_route_choice.html", fields)
        self.chosen = chosen
        self.format_distance = format_distance
        self.no_location = Markup("<span>{}</span>").format(_("No location"))

    def __call__(self, factory, metres: float | None, ticked: bool) -> Markup:
        chosen = self.chosen
        checked = ticked if chosen is None else factory.id in chosen
        if factory.lat is None:
            note = self.no_location
        elif metres is not None:
            note = Markup("<span>{}</span>").format(self.format_distance(metres))
        else:
            note = ""
        values = {
            "id": factory.id,
            "name": factory.name,
            "badge": stage_badge(factory),
            "note": note,
        }
        return self.row({**values, "checked": _CHECKED if checked else ""})


def stop_rows(route: DayRoute, format_distance) -> list[Markup]:
    """Each located stop of the route as its row, in the route's order."""
    if not route.stops:
        return []
    row = RowTemplate("field/_route_stop.html", FIELDS)
    factory_url = RowUrl("factories.show", "factory_id")
    check_in = RowUrl("visits.new", "factory")
    start = Markup("<span>{}</span>").format(_("Start"))
    late = Markup(' <span class="badge badge-danger route-late">{}</span>').format(
        _("Closed by the time you arrive")
    )
    about = _("about %(time)s", time="{time}")
    open_hours = _("open %(opens)s–%(closes)s", opens="{opens}", closes="{closes}")
    navigate_to = _("Navigate to %(name)s", name="{name}")
    move_up = _("Move %(name)s up", name="{name}")
    move_down = _("Move %(name)s down", name="{name}")
    last = len(route.stops)
    rows = []
    for number, stop in enumerate(route.stops, start=1):
        factory, leg = stop.factory, stop.leg
        name = factory.name
        if number == 1 and not route.start:
            leg_html = start
        else:
            distance = format_distance(leg.leg_m)
            leg_html = Markup('<span class="route-leg">{}</span>').format(distance)
        hours = ""
        if factory.opens_at or factory.closes_at:
            opens = factory.opens_at.strftime("%H:%M") if factory.opens_at else "…"
            closes = factory.closes_at.strftime("%H:%M") if factory.closes_at else "…"
            text = open_hours.replace("{opens}", opens).replace("{closes}", closes)
            hours = Markup("<span>{}</span>").format(text)
        minute = leg.arrive_minute
        arrival = f"{(minute // 60) % 24:02d}:{minute % 60:02d}"
        rows.append(
            row(
                {
                    "id": factory.id,
                    "number": number,
                    "url": factory_url(factory.id),
                    "name": name,
                    "badge": stage_badge(factory),
                    "leg": leg_html,
                    "about": about.replace("{time}", arrival),
                    "hours": hours,
                    "late": late if leg.late else "",
                    "navigate_to": navigate_to.replace("{name}", name),
                    "amap": stop.navigation.amap,
                    "baidu": stop.navigation.baidu,
                    "device": stop.navigation.device,
                    "check_in": check_in(factory.id),
                    "move_up": move_up.replace("{name}", name),
                    "move_down": move_down.replace("{name}", name),
                    "up_disabled": _DISABLED if number == 1 else "",
                    "down_disabled": _DISABLED if number == last else "",
                }
            )
        )
    return rows
