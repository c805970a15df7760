"""The scheduler's leader lease: one process of several runs the jobs (DESIGN.md "Scheduled work").

On PostgreSQL a session advisory lock, held on a connection of its own for the process's
life: a dead process's lock goes with its connection, so a standby takes over at once. On
SQLite a lease row with an expiry that the holder renews; a standby takes it once lapsed.
On PostgreSQL the leader writes the row too, as a beacon for the admin's jobs page.
"""

from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from crm.extensions import db
from crm.models import SchedulerLease
from crm.transactions import retrying

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_SECONDS = 45
# pg_try_advisory_lock's key: "FGCRM" in ASCII, so that other apps' locks never collide.
ADVISORY_KEY = 0x4647_43524D
# A released lease's expiry: lapsed for any clock, so a standby takes it at once.
RELEASED = datetime(2000, 1, 1, tzinfo=UTC)


class LeaseLost(RuntimeError):
    """Another process leads now: stop, and let it finish the run."""


class Lease(ABC):
    """Leadership among scheduler processes: `hold` takes or keeps it, and says if it is ours."""

    def __init__(self, holder: str, seconds: int = LEASE_SECONDS) -> None:
        self.holder = holder
        self.seconds = seconds
        self.acquired_at: datetime | None = None

    @property
    def held(self) -> bool:
        return self.acquired_at is not None

    @abstractmethod
    def hold(self, at: datetime) -> bool:
        """Take or renew the lease at `at`; False while another process holds it."""

    @abstractmethod
    def release(self) -> None:
        """Give the lease up so that a standby takes over at once."""

    def _write_row(self, at: datetime, *, take_over: bool) -> bool:
        """Renew the row if ours, or take it (once lapsed; always with `take_over`); commits."""
        expires = at + timedelta(seconds=self.seconds)
        statement = update(SchedulerLease).where(SchedulerLease.name == LEASE_NAME)
        if not take_over:
            statement = statement.where(
                (SchedulerLease.holder == self.holder) | (SchedulerLease.expires_at < at)
            )
        result = db.session.execute(
            statement.values(holder=self.holder, expires_at=expires).execution_options(
                synchronize_session=False
            )
        )
        if result.rowcount:
            db.session.commit()
            return True
        if db.session.get(SchedulerLease, LEASE_NAME) is not None:
            db.session.rollback()
            return False
        try:
            db.session.add(SchedulerLease(name=LEASE_NAME, holder=self.holder, expires_at=expires))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return False
        return True


class RowLease(Lease):
    """SQLite: a row with an expiry; the holder renews it, a standby takes it once lapsed."""

    def hold(self, at: datetime) -> bool:
        if retrying(lambda: self._write_row(at, take_over=False)):
            if self.acquired_at is None:
                self.acquired_at = at
                log.info("scheduler %s leads (lease row)", self.holder)
            return True
        if self.acquired_at is not None:
            log.warning("scheduler %s lost the lease", self.holder)
        self.acquired_at = None
        return False

    def release(self) -> None:
        if self.acquired_at is None:
            return
        db.session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder)
            .values(expires_at=RELEASED)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        self.acquired_at = None


class AdvisoryLease(Lease):
    """PostgreSQL: a session advisory lock on a connection kept for the process's life."""

    def __init__(self, holder: str, seconds: int = LEASE_SECONDS) -> None:
        super().__init__(holder, seconds)
        self.connection = None

    def hold(self, at: datetime) -> bool:
        try:
            if self.connection is None:
                self.connection = db.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                )
            if self.acquired_at is None:
                taken = self.connection.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
                )
                if not taken:
                    return False
                self.acquired_at = at
                log.info("scheduler %s leads (advisory lock)", self.holder)
            else:
                self.connection.scalar(text("SELECT 1"))  # the lock lives while this does
        except DBAPIError:
            log.warning("scheduler %s lost its lock connection", self.holder, exc_info=True)
            self._drop()
            return False
        # The beacon that the admin's page reads; the lock, not the row, decides who leads.
        retrying(lambda: self._write_row(at, take_over=True))
        return True

    def _drop(self) -> None:
        self.acquired_at = None
        if self.connection is not None:
            try:
                self.connection.invalidate()
                self.connection.close()
            except DBAPIError:
                pass
        self.connection = None

    def release(self) -> None:
        if self.connection is not None and self.acquired_at is not None:
            with contextlib.suppress(DBAPIError):
                self.connection.scalar(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY}
                )
        self._drop()


def make_lease(holder: str) -> Lease:
    if db.engine.dialect.name == "postgresql":
        return AdvisoryLease(holder)
    return RowLease(holder)


@dataclass
class Health:
    """What the admin's page says of the scheduler process."""

    holder: str | None
    seen_at: datetime | None  # the leader's last renewal
    alive: bool


def health(now: datetime) -> Health:
    row = db.session.get(SchedulerLease, LEASE_NAME)
    if row is None or row.expires_at <= RELEASED:
        return Health(row.holder if row else None, None, False)
    return Health(
        row.holder, row.expires_at - timedelta(seconds=LEASE_SECONDS), row.expires_at >= now
    )
