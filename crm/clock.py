"""The install's clock and calendar: instants in UTC, "today" in the install's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app


def now() -> datetime:
    return datetime.now(UTC)


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CRM_TIMEZONE"])


def local(instant: datetime) -> datetime:
    return instant.astimezone(zone())


def today(at: datetime | None = None) -> date:
    return local(at or now()).date()


def at_local_time(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """The instant of a wall-clock time on a local day (a date a person picks lands at 10:00)."""
    return datetime.combine(day, time(hour, minute), tzinfo=zone()).astimezone(UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants at which a local day starts and the next one starts."""
    start = datetime.combine(day, time.min, tzinfo=zone())
    end = datetime.combine(date.fromordinal(day.toordinal() + 1), time.min, tzinfo=zone())
    return start.astimezone(UTC), end.astimezone(UTC)
