"""Each morning: one summary per manager of the factories that became ready for their next stage.

The daily sweep (crm.jobs.daily, at 05:00) works eligibility out again and sets
`eligible_since`; a change during the day (a task ticked, a figure entered) sets it too. At
06:00 each manager gets one inbox item naming how many factories of the belts they lead became
eligible since the last summary (the day before, or since the last summary that ran when days
were missed, a week at most) and are still eligible, the first of them by name, linked to the
stuck list's "Eligible, not requested". Its kind is `factory_eligible`, so it comes by e-mail
when the manager chose that kind (crm.services.notices.mail). One item per manager and day, never
one per factory: its key names both, so a rerun of the day writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import clock, scope
from crm.jobs.notices import Notice, active_managers, send_once
from crm.models import Factory, JobRun, User

NAME = "eligible_summary"
HOUR = 6  # after the daily sweep of 05:00 has set eligible_since
LISTED = 10  # factories named in one summary
LONGEST = timedelta(days=7)  # the most a summary looks back after missed days
LINK = "/pipeline/stuck?kind=eligible"


def period_start(now: datetime) -> datetime:
    """The start of the day's period: 06:00 today in the install's zone, or yesterday's."""
    day = clock.today(now)
    start = clock.at_local_time(day, HOUR)
    return start if start <= now else clock.at_local_time(day - timedelta(days=1), HOUR)


def window(session: Session, now: datetime) -> tuple[datetime, datetime]:
    """From the last summary that ran (a day before at the latest, a week at most) to now's
    period start: every factory that became eligible in between is summed up once."""
    end = period_start(now)
    last = session.scalar(
        select(func.max(JobRun.run_key)).where(
            JobRun.job == NAME,
            JobRun.outcome == "ok",
            JobRun.run_key < f"{NAME}:{clock.today(end).isoformat()}",
        )
    )
    start = end - timedelta(days=1)
    if last:
        previous = clock.at_local_time(date.fromisoformat(last.split(":", 1)[1]), HOUR)
        start = max(min(previous, start), end - LONGEST)
    return start, end


def run(session: Session, now: datetime) -> Iterator[dict[str, int]]:
    start, end = window(session, now)
    day = clock.today(end).isoformat()
    for managers in active_managers(session):
        notices = [
            notice
            for manager in managers
            if (notice := summary(session, manager, start, end, day)) is not None
        ]
        yield {"eligible_summaries": send_once(notices)}
    yield {"eligible_summaries": 0}


def newly_eligible(manager: User, start: datetime, end: datetime) -> tuple:
    """The conditions of the manager's factories that became eligible in the window."""
    return (
        Factory.belt_id.in_(scope.led_belt_ids(manager)),
        Factory.status == "active",
        Factory.eligible_since >= start,
        Factory.eligible_since < end,
    )


def summary(
    session: Session, manager: User, start: datetime, end: datetime, day: str
) -> Notice | None:
    """The manager's one notice of the day, or None when nothing became eligible."""
    conditions = newly_eligible(manager, start, end)
    count = session.scalar(select(func.count()).select_from(Factory).where(*conditions)) or 0
    if not count:
        return None
    names = session.scalars(
        select(Factory.name)
        .where(*conditions)
        .order_by(Factory.eligible_since, Factory.id)
        .limit(LISTED)
    ).all()

    def title() -> str:
        return ngettext(
            "%(num)d factory became ready for its next stage",
            "%(num)d factories became ready for their next stage",
            count,
        )

    def body() -> str:
        lines = list(names)
        if count > len(names):
            lines.append(_("and %(count)d more", count=count - len(names)))
        lines.append(_("Promote them, or plan a visit, from the stuck list."))
        return "\n".join(lines)

    return Notice(
        user=manager,
        kind="factory_eligible",
        key=f"{NAME}:{day}:{manager.id}",
        title=title,
        body=body,
        link=LINK,
    )
