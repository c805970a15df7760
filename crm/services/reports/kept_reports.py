"""The reports kept: what a scope's reports said when last read from the live rows, and when.

Read live, the reports of the whole install count a year of visits and every stay in a stage
(seconds at 100,000 factories). So the four reports of one scope, narrowing and period are read
together, kept with the time they were read (`KeptReport`), and shown from there, saying "as of"
that time, while they are younger than MAX_AGE; after that, the next look reads them again.
Refresh reads them again at once, unless they were read within REFRESH_AFTER. The background
job (`refresh_due`, every REFRESH_EVERY) reads again those looked at within the last day
before they grow old, so that nobody waits for the whole install's numbers.

A kept result is named by its scope (`scope.shared_scope_key`: the whole install, or the
belts a manager leads), never by its user: whoever has that very scope sees it, and nobody
else. A scope of one's own (none shared) is read live every time. The page and its exports
read the same kept result, so a file holds what the page showed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Executable, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from crm import clock, scope
from crm.clock import day_bounds
from crm.extensions import db
from crm.models import Belt, KeptReport, User
from crm.services.reports import reports
from crm.services.reports.report_conversion import Cohort, Conversion, conversion
from crm.services.reports.report_targets import Attainment, target_attainment
from crm.services.reports.reports import Narrow, StageTrend, VisitWeeks

log = logging.getLogger(__name__)

MAX_AGE = timedelta(minutes=30)  # the oldest kept reports shown
REFRESH_AFTER = timedelta(minutes=1)  # a Refresh sooner than this shows the reading in hand
REFRESH_EVERY = 15  # minutes between the background job's runs
REFRESH_OLDER = timedelta(minutes=10)  # the job reads again kept reports older than this...
LOOKED_AT_WITHIN = timedelta(days=1)  # ...that someone looked at within this
VIEWED_EVERY = timedelta(hours=1)  # how often a look is written down
FORMAT = 1  # the payload's shape: a kept result of another shape is read again


@dataclass
class Reports:
    """The four reports of a scope, narrowing and period, and when they were read."""

    trend: StageTrend
    visits: VisitWeeks
    conversion: Conversion
    targets: list[Attainment]
    as_of: datetime
    kept: bool  # shown from a kept reading (False: read live for this request)
    # What to write once the answer is drawn (the reading to keep, or that it was looked at):
    # the view runs it as bookkeeping (crm.transactions.bookkeep), never an error for the page.
    keep: Executable | None = None


DEFAULT = "default"  # the key's period part for the default period, whatever the day


def key_for(
    actor: User, narrow: Narrow, period: tuple[date, date, str], today: date | None = None
) -> str | None:
    """The kept result's name, or None for a scope that is not shared (read live). The default
    period of its granularity on `today` is named as such, not by its dates: the same reading
    rolls on from one day to the next (the job reads it again after midnight)."""
    shared = scope.shared_scope_key(actor)
    if shared is None:
        return None
    start, end, granularity = period
    named = f"{start.isoformat()}|{end.isoformat()}"
    if today is not None and period == reports.default_period(today, granularity):
        named = f"{DEFAULT}|"
    return (
        f"v{FORMAT}|{shared}|belt:{narrow.belt_id or ''}|rep:{narrow.rep_id or ''}"
        f"|{named}|{granularity}"
    )


def reports_for(
    actor: User,
    narrow: Narrow,
    now: datetime,
    period: tuple[date, date, str],
    *,
    refresh: bool = False,
) -> Reports:
    """The reports, from the kept reading when it is young enough (and not refreshed), else
    read live now, with the statement that keeps them (`Reports.keep`)."""
    today = clock.today(now)
    key = key_for(actor, narrow, period, today)
    row = db.session.get(KeptReport, key) if key else None
    if row is not None:
        age = now - row.computed_at
        wanted_fresh = refresh and age >= REFRESH_AFTER
        # The default period's reading of another day counted other days.
        rolled = f"|{DEFAULT}|" in row.key and clock.today(row.computed_at) != today
        if timedelta(0) <= age < MAX_AGE and not wanted_fresh and not rolled:
            found = decode(row.payload, row.computed_at)
            if found is not None:
                if now - row.viewed_at >= VIEWED_EVERY:
                    found.keep = _viewed(row.key, now)
                return found
    payload = encode(*read_live(actor, narrow, now, period))
    found = decode(payload, now)
    assert found is not None
    found.kept = False
    if key is not None:
        found.keep = _keep_statement(key, payload, now, actor.id)
    return found


def read_live(
    actor: User, narrow: Narrow, now: datetime, period: tuple[date, date, str]
) -> tuple[StageTrend, VisitWeeks, Conversion, list[Attainment]]:
    """The four reports from the live rows (the slow part)."""
    return (
        reports.stages_over_time(actor, narrow, now, period=period),
        reports.visits_per_week(actor, narrow, now, period=period),
        conversion(actor, narrow, now, period=period),
        target_attainment(actor, narrow, now),
    )


def _keep_statement(
    key: str, payload: str, now: datetime, asked_by: int | None, *, looked_at: bool = True
):
    """Keep a reading (a new row, or over the old one). The job's reading is not a look: it
    leaves `viewed_at` as it was, so what nobody looks at is forgotten."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"payload": payload, "computed_at": now}
    if looked_at:
        values["viewed_at"] = now
    return (
        insert(KeptReport)
        .values(key=key, asked_by_id=asked_by, payload=payload, computed_at=now, viewed_at=now)
        .on_conflict_do_update(index_elements=[KeptReport.key], set_=values)
    )


def _viewed(key: str, now: datetime):
    return update(KeptReport).where(KeptReport.key == key).values(viewed_at=now)


# --- the payload: numbers and ids, no words -------------------------------------------------


def encode(
    trend: StageTrend, visits: VisitWeeks, converted: Conversion, targets: list[Attainment]
) -> str:
    return json.dumps(
        {
            "format": FORMAT,
            "trend": {
                "months": [day.isoformat() for day in trend.months],
                "counts": trend.counts,
                "granularity": trend.granularity,
            },
            "visits": {
                "weeks": [day.isoformat() for day in visits.weeks],
                "rows": [[rep.id, counts] for rep, counts in visits.rows],
                "granularity": visits.granularity,
            },
            "conversion": {
                "quarters": converted.quarters,
                "stages": list(converted.stages),
                "by_quarter": [
                    [stage, quarter, *_cohort(cohort)]
                    for (stage, quarter), cohort in converted.by_quarter.items()
                ],
                "belts": [belt.id for belt in converted.belts],
                "by_belt": [
                    [belt_id, stage, *_cohort(cohort)]
                    for (belt_id, stage), cohort in converted.by_belt.items()
                ],
            },
            "targets": [
                [
                    item.stage,
                    item.title_en,
                    item.title_zh,
                    item.met,
                    item.not_met,
                    item.no_data,
                    item.waived,
                ]
                for item in targets
            ],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _cohort(cohort: Cohort) -> list[int | None]:
    return [cohort.entered, cohort.moved_on, cohort.median_days]


def decode(payload: str, as_of: datetime) -> Reports | None:
    """The reports a payload holds, their reps and belts read by id (one statement each); None
    for a payload of another shape."""
    try:
        data = json.loads(payload)
        if data.get("format") != FORMAT:
            return None
        trend_data, visit_data = data["trend"], data["visits"]
        trend = StageTrend(
            [date.fromisoformat(day) for day in trend_data["months"]],
            trend_data["counts"],
            trend_data["granularity"],
        )
        rep_ids = [rep_id for rep_id, _counts in visit_data["rows"]]
        reps = _by_id(User, rep_ids)
        visits = VisitWeeks(
            [date.fromisoformat(day) for day in visit_data["weeks"]],
            [(reps[rep_id], counts) for rep_id, counts in visit_data["rows"] if rep_id in reps],
            visit_data["granularity"],
        )
        converted_data = data["conversion"]
        belts = _by_id(Belt, converted_data["belts"])
        converted = Conversion(
            converted_data["quarters"],
            tuple(converted_data["stages"]),
            {
                (stage, quarter): Cohort(*rest)
                for stage, quarter, *rest in converted_data["by_quarter"]
            },
            [belts[belt_id] for belt_id in converted_data["belts"] if belt_id in belts],
            {
                (belt_id, stage): Cohort(*rest)
                for belt_id, stage, *rest in converted_data["by_belt"]
            },
        )
        targets = [Attainment(*item) for item in data["targets"]]
    except (ValueError, KeyError, TypeError):
        log.warning("a kept report of another shape is read again")
        return None
    return Reports(trend, visits, converted, targets, as_of, kept=True)


def _by_id(model, ids: list[int]) -> dict:
    if not ids:
        return {}
    return {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}


# --- the background job -----------------------------------------------------------------------


def _parsed(key: str, today: date) -> tuple[Narrow, tuple[date, date, str]] | None:
    """The narrowing and period a key names on `today` (key_for's inverse), None for another
    format."""
    parts = key.split("|")
    if len(parts) != 7 or parts[0] != f"v{FORMAT}":
        return None
    _version, _scope, belt, rep, start, end, granularity = parts
    try:
        narrow = Narrow(
            belt_id=int(belt.removeprefix("belt:") or 0) or None,
            rep_id=int(rep.removeprefix("rep:") or 0) or None,
        )
        if start == DEFAULT:
            if granularity not in reports.GRANULARITIES:
                return None
            return narrow, reports.default_period(today, granularity)
        return narrow, (date.fromisoformat(start), date.fromisoformat(end), granularity)
    except ValueError:
        return None


def refresh_due(session, now: datetime):
    """The job: read again the kept reports looked at within LOOKED_AT_WITHIN that are older
    than REFRESH_OLDER and whose period has not ended, as the user who asked for them; a kept
    result whose user is gone, inactive or of another scope now is dropped, and so is one that
    cannot be read again (logged): one reading must not stop the others."""
    today = clock.today(now)
    due = session.execute(
        select(KeptReport.key, KeptReport.asked_by_id).where(
            KeptReport.viewed_at >= now - LOOKED_AT_WITHIN,
            # Old enough, or counted before today began (a default period's rolls on).
            or_(
                KeptReport.computed_at < now - REFRESH_OLDER,
                KeptReport.computed_at < day_bounds(today)[0],
            ),
        )
    ).all()
    for key, asked_by in due:
        try:
            with session.begin_nested():
                outcome = _refresh_one(session, key, asked_by, now, today)
        except Exception:  # whatever it was, the next reading goes on
            log.exception("a kept report could not be read again: %s", key)
            outcome = "dropped"
        if outcome == "dropped":
            session.execute(delete(KeptReport).where(KeptReport.key == key))
        if outcome:
            yield {outcome: 1}
    stale = session.execute(
        delete(KeptReport).where(KeptReport.viewed_at < now - LOOKED_AT_WITHIN)
    ).rowcount
    yield {"forgotten": stale or 0}


def _refresh_one(session, key: str, asked_by: int | None, now: datetime, today: date) -> str:
    """Read one kept report again: "refreshed", "dropped" (no longer its user's), or "" (a
    period that has ended, read again when someone looks)."""
    parsed = _parsed(key, today)
    actor = session.get(User, asked_by) if asked_by else None
    if parsed is None or actor is None or not actor.active:
        return "dropped"
    narrow, period = parsed
    if key_for(actor, narrow, period, today) != key:
        return "dropped"
    if period[1] < today:
        return ""
    payload = encode(*read_live(actor, narrow, now, period))
    session.execute(_keep_statement(key, payload, now, actor.id, looked_at=False))
    return "refreshed"
