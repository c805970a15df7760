"""The scheduled jobs and when their periods start (DESIGN.md "Scheduled work").

A job is a function of (database session, now) that does its work in batches and yields
the counts of each batch; the runner (crm.jobs.scheduler) commits after each yield,
so a crash loses at most the batch in hand, and the per-item markers let a rerun finish
the rest. Each run has a key, the job's name and its period ("reminders:2026-11-25T10:15",
"daily:2026-11-25", "digest:2026-W48"); a period whose run finished is never run again.
Times are the install's (crm.clock).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from crm import clock
from crm.jobs import daily, digest, eligible_summary, reminders, retention
from crm.services.reports import kept_reports

Counts = dict[str, int]
JobFunction = Callable[[Session, datetime], Iterator[Counts]]


class Schedule(ABC):
    """When a job's periods start; a period is named by its start in the install's zone."""

    @abstractmethod
    def latest(self, now: datetime) -> datetime:
        """The start (UTC) of the latest period that has begun by `now`."""

    @abstractmethod
    def following(self, start: datetime) -> datetime:
        """The start of the period after the one starting at `start`."""

    @abstractmethod
    def label(self, start: datetime) -> str:
        """The period's name in its run key, such as 2026-11-25 or 2026-W48."""

    @abstractmethod
    def cron(self) -> dict[str, str | int]:
        """APScheduler CronTrigger fields that wake the runner when a period starts."""

    @abstractmethod
    def describe(self) -> str:
        """When it runs, in words for the admin's page."""


@dataclass(frozen=True)
class EveryMinutes(Schedule):
    minutes: int

    def latest(self, now: datetime) -> datetime:
        local = clock.local(now).replace(second=0, microsecond=0)
        return (local - timedelta(minutes=local.minute % self.minutes)).astimezone(UTC)

    def following(self, start: datetime) -> datetime:
        return start + timedelta(minutes=self.minutes)

    def label(self, start: datetime) -> str:
        return clock.local(start).strftime("%Y-%m-%dT%H:%M")

    def cron(self) -> dict[str, str | int]:
        return {"minute": f"*/{self.minutes}"}

    def describe(self) -> str:
        return _("Every %(minutes)d minutes", minutes=self.minutes)


@dataclass(frozen=True)
class DailyAt(Schedule):
    hour: int

    def latest(self, now: datetime) -> datetime:
        day = clock.today(now)
        start = clock.at_local_time(day, self.hour)
        return start if start <= now else clock.at_local_time(day - timedelta(days=1), self.hour)

    def following(self, start: datetime) -> datetime:
        return clock.at_local_time(clock.today(start) + timedelta(days=1), self.hour)

    def label(self, start: datetime) -> str:
        return clock.today(start).isoformat()

    def cron(self) -> dict[str, str | int]:
        return {"hour": self.hour, "minute": 0}

    def describe(self) -> str:
        return _("Every day at %(time)s", time=f"{self.hour:02d}:00")


@dataclass(frozen=True)
class WeeklyAt(Schedule):
    """Mondays at an hour: a period is an ISO week."""

    hour: int

    def latest(self, now: datetime) -> datetime:
        day = clock.today(now)
        monday = day - timedelta(days=day.weekday())
        start = clock.at_local_time(monday, self.hour)
        return start if start <= now else clock.at_local_time(monday - timedelta(days=7), self.hour)

    def following(self, start: datetime) -> datetime:
        return clock.at_local_time(clock.today(start) + timedelta(days=7), self.hour)

    def label(self, start: datetime) -> str:
        year, week, _weekday = clock.today(start).isocalendar()
        return f"{year}-W{week:02d}"

    def cron(self) -> dict[str, str | int]:
        return {"day_of_week": "mon", "hour": self.hour, "minute": 0}

    def describe(self) -> str:
        return _("Mondays at %(time)s", time=f"{self.hour:02d}:00")


@dataclass(frozen=True)
class Job:
    name: str
    title: str
    schedule: Schedule
    run: JobFunction

    def key(self, now: datetime) -> str:
        """The run key of the latest period that has begun by `now`."""
        return f"{self.name}:{self.schedule.label(self.schedule.latest(now))}"

    def next_start(self, now: datetime) -> datetime:
        return self.schedule.following(self.schedule.latest(now))


# In the order a tick runs them: reminders are the most pressed for time.
JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job("reminders", _l("Follow-up reminders"), EveryMinutes(15), reminders.run),
        Job("daily", _l("Cadence, stale and eligibility sweep"), DailyAt(5), daily.run),
        Job(
            eligible_summary.NAME,
            _l("Daily summary of newly eligible factories for managers"),
            DailyAt(eligible_summary.HOUR),
            eligible_summary.run,
        ),
        Job("digest", _l("Weekly digest for managers"), WeeklyAt(7), digest.run),
        Job(
            retention.NAME,
            _l("Retention: old positions coarsened, old records deleted"),
            DailyAt(retention.HOUR),
            retention.run,
        ),
        Job(
            "reports",
            _l("Reports looked at kept fresh"),
            EveryMinutes(kept_reports.REFRESH_EVERY),
            kept_reports.refresh_due,
        ),
    )
}
