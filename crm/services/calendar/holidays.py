"""The install's calendar of days off and make-up working days: seeded with China's public
holidays and 调休 from the kept library `chinesecalendar`, then edited by the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import chinese_calendar
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.models import Holiday, User
from crm.models.system import HOLIDAY_KINDS, HOLIDAY_NAME_MAX
from crm.services.install import audit
from crm.services.install.audit import Actor

# The library's names of the festivals, as the admin's page shows them.
FESTIVALS = {
    "New Year's Day": _l("New Year's Day"),
    "Spring Festival": _l("Spring Festival"),
    "Tomb-sweeping Day": _l("Tomb-sweeping Day"),
    "Labour Day": _l("Labour Day"),
    "Dragon Boat Festival": _l("Dragon Boat Festival"),
    "National Day": _l("National Day"),
    "Mid-autumn Festival": _l("Mid-autumn Festival"),
    "Anti-Fascist 70th Day": _l("Anti-Fascist 70th Day"),
}
# Years an admin may edit: the library's first year to a few years ahead of today.
FIRST_YEAR = 2004
YEARS_AHEAD = 5


@dataclass(frozen=True)
class Year:
    """A year of the calendar as the admin's page shows it."""

    year: int
    days: list[Holiday]
    library_has_it: bool

    @property
    def holidays(self) -> list[Holiday]:
        return [day for day in self.days if day.kind == "holiday"]

    @property
    def workdays(self) -> list[Holiday]:
        return [day for day in self.days if day.kind == "workday"]


def label(name: str) -> str:
    """A day's name in the reader's language when it is a festival the library names."""
    return str(FESTIVALS[name]) if name in FESTIVALS else name


def library_days(year: int) -> dict[date, tuple[str, str]]:
    """The library's days off and make-up working days of a year: {day: (kind, name)}."""
    days: dict[date, tuple[str, str]] = {}
    for day, name in chinese_calendar.holidays.items():
        if day.year == year:
            days[day] = ("holiday", str(name))
    for day, name in chinese_calendar.workdays.items():
        if day.year == year:
            days[day] = ("workday", str(name))
    return days


def library_has(year: int) -> bool:
    return bool(library_days(year))


def year(number: int) -> Year:
    days = db.session.scalars(_in_year(select(Holiday), number).order_by(Holiday.day)).all()
    return Year(year=number, days=list(days), library_has_it=library_has(number))


def _in_year(statement, number: int):
    return statement.where(Holiday.day >= date(number, 1, 1), Holiday.day <= date(number, 12, 31))


def has_days(number: int) -> bool:
    """Whether the install's calendar holds any day of the year."""
    return bool(db.session.scalar(_in_year(select(func.count()).select_from(Holiday), number)))


def missing_year(today: date) -> int | None:
    """The coming year when the calendar holds none of its days (the admin home warns)."""
    return None if has_days(today.year + 1) else today.year + 1


def seed_year(actor: Actor, number: int) -> int:
    """Add the library's days of a year that the calendar lacks; an admin's edits stay.

    Returns how many days were added (0 for a year the library does not know yet).
    """
    known = set(db.session.scalars(_in_year(select(Holiday.day), number)))
    added = 0
    for day, (kind, name) in sorted(library_days(number).items()):
        if day not in known:
            db.session.add(Holiday(day=day, kind=kind, name=name))
            added += 1
    db.session.flush()
    if added:
        audit.record(actor, "calendar", None, "seed", {"year": (None, number), "days": (0, added)})
    return added


def seed_new_install(actor: Actor, today: date) -> dict[int, int]:
    """The current and next year from the library, each only if the calendar holds none of
    its days (so a day an admin removed is not put back at the next start)."""
    return {
        number: seed_year(actor, number)
        for number in (today.year, today.year + 1)
        if not has_days(number)
    }


def check_year(number: int, today: date) -> int:
    """A year an admin may look at or edit, or Invalid by the field `year`."""
    if not FIRST_YEAR <= number <= today.year + YEARS_AHEAD:
        message = _(
            "Pick a year from %(first)d to %(last)d.",
            first=FIRST_YEAR,
            last=today.year + YEARS_AHEAD,
        )
        raise Invalid(message, fields={"year": message})
    return number


def add_day(actor: User, day: date, kind: str, name: str, today: date) -> Holiday:
    """Mark a day as a day off or a make-up working day (one mark a day)."""
    try:
        check_year(day.year, today)
    except Invalid as error:
        raise Invalid(error.message, fields={"day": error.message}) from None
    if kind not in HOLIDAY_KINDS:
        message = _("Choose a day off or a make-up working day.")
        raise Invalid(message, fields={"kind": message})
    name = " ".join((name or "").split())
    if len(name) > HOLIDAY_NAME_MAX:
        message = _("Use at most %(max)d characters for the name.", max=HOLIDAY_NAME_MAX)
        raise Invalid(message, fields={"name": message})
    if db.session.get(Holiday, day) is not None:
        message = _("This day is in the calendar already: remove it first to change it.")
        raise Invalid(message, fields={"day": message})
    holiday = Holiday(day=day, kind=kind, name=name)
    db.session.add(holiday)
    db.session.flush()
    audit.record(
        actor, "calendar", None, "add", {"day": (None, day.isoformat()), "kind": (None, kind)}
    )
    return holiday


def remove_day(actor: User, day: date) -> Holiday:
    holiday = db.session.get(Holiday, day)
    if holiday is None:
        raise Conflict(_("This day is not in the calendar; nothing was changed."))
    db.session.delete(holiday)
    db.session.flush()
    audit.record(
        actor,
        "calendar",
        None,
        "remove",
        {"day": (day.isoformat(), None), "kind": (holiday.kind, None)},
    )
    return holiday
