"""Work requests (DESIGN.md "Long work"): asked for by a page, claimed once, run by a handler.

`request(kind, arguments, by, now)` records the work (the caller commits). The scheduler
process (crm.jobs.scheduler, on a thread of its own) or `flask crm run-work` calls
`claim_next(holder, now)`, which marks the oldest pending request running for one holder
only: `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so two claimers never wait on or
take the same row, and on SQLite a conditional `UPDATE ... WHERE status = 'pending'` whose
row count says who won. `run(request)` calls the handler registered for its kind; a handler
reports progress with `report(...)`, which commits (a handler reports between its batches,
so each commit is short), and returns the result. A failure is recorded on the request in
words for the page (never a 500 there), and the kind's own `on_failure` tidies its records.

A request whose holder died stays `running`: `recover_abandoned(now)` fails those claimed
longer ago than STALE_AFTER (their transaction was rolled back with the process; the page
says to ask again), so that no request waits for ever. The runner's own bookkeeping (the
claim, progress, the outcome) is retried while the database is busy or away
(crm.transactions.retrying); should even the failure not be saved, the holder's next poll
fails the requests it holds but no longer runs (`recover_abandoned(now, holder=...)`), so a
request is never left "running" with nothing running it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update

from crm import clock
from crm.extensions import db
from crm.models import WorkRequest
from crm.transactions import is_busy, retrying

log = logging.getLogger(__name__)

ERROR_MAX = 4000
# A request running for longer than this has lost its process (the longest, a 100,000-row
# import, takes well under a minute).
STALE_AFTER = timedelta(minutes=30)
# The admin's jobs page calls a request stuck when it has run this long (long before the
# stale recovery fails it), and lists the failures of this many days.
STUCK_AFTER = timedelta(minutes=10)
SHOWN_FAILURES = timedelta(days=7)

Handler = Callable[[WorkRequest, Any], dict]
Failure = Callable[[WorkRequest, str], None]


@dataclass(frozen=True)
class Kind:
    handler: Handler
    on_failure: Failure | None = None


KINDS: dict[str, Kind] = {}

# The requests this process is running now: a holder's other `running` ones have lost their run.
_in_hand: set[int] = set()
_in_hand_lock = threading.Lock()


def handles(kind: str, on_failure: Failure | None = None) -> Callable[[Handler], Handler]:
    """Register the function that does one kind of work: handler(request, runner) -> result.

    `runner` is the scheduler's Runner when the scheduler process runs it, else None.
    `on_failure(request, message)` marks the kind's own records failed (it may not commit).
    """

    def register(handler: Handler) -> Handler:
        KINDS[kind] = Kind(handler, on_failure)
        return handler

    return register


def request(kind: str, arguments: dict, by: int | None, now: datetime | None = None) -> WorkRequest:
    """Ask for work; the scheduler process picks it up once the caller commits."""
    if kind not in KINDS:
        raise LookupError(f"no handler for work of kind {kind!r}")
    record = WorkRequest(
        kind=kind,
        arguments=dict(arguments),
        requested_by_id=by,
        status="pending",
        created_at=now or clock.now(),
    )
    db.session.add(record)
    db.session.flush()
    return record


def claim_next(
    holder: str, now: datetime, excluded: tuple[str, ...] | None = None
) -> WorkRequest | None:
    """The oldest pending request, marked running for `holder` alone (committed); or None."""
    statement = select(WorkRequest.id).where(WorkRequest.status == "pending")
    if excluded:
        statement = statement.where(WorkRequest.kind.not_in(excluded))
    statement = statement.order_by(WorkRequest.created_at, WorkRequest.id).limit(1)
    postgres = db.session.get_bind().dialect.name == "postgresql"
    for _attempt in range(5):
        if postgres:
            # The row stays locked until the commit below: another claimer skips it.
            statement = statement.with_for_update(skip_locked=True)
        request_id = db.session.scalar(statement)
        if request_id is None:
            db.session.rollback()
            return None
        claimed = _claim(request_id, holder, now)
        if claimed is not None:
            return claimed
        # SQLite: another claimer won this one between the read and the update; try the next.
    return None


def claim(request_id: int, holder: str, now: datetime) -> WorkRequest | None:
    """Claim one given request (a small import done in the page's own request), or None."""
    return _claim(request_id, holder, now)


def _claim(request_id: int, holder: str, now: datetime) -> WorkRequest | None:
    def claim_it() -> int:
        claimed = db.session.execute(
            update(WorkRequest)
            .where(WorkRequest.id == request_id, WorkRequest.status == "pending")
            .values(status="running", claimed_at=now, claimed_by=holder[:120])
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return claimed.rowcount

    # After claim_next's read the claim commits with it; on its own it is retried while busy.
    rowcount = claim_it() if db.session().in_transaction() else retrying(claim_it)
    if rowcount != 1:
        return None
    record = db.session.get(WorkRequest, request_id)
    db.session.refresh(record)
    return record


def run(request: WorkRequest, runner: Any = None) -> WorkRequest:
    """Do a claimed request with its kind's handler; records the result or the failure."""
    request_id = request.id
    kind = KINDS.get(request.kind)
    with _in_hand_lock:
        _in_hand.add(request_id)
    try:
        if kind is None:
            raise LookupError(f"no handler for work of kind {request.kind!r}")
        result = kind.handler(request, runner)
        # The handler's last writes, if any, are committed with the outcome: all or nothing.
        request.status, request.finished_at = "done", clock.now()
        request.result = result or {}
        request.progress_done = max(request.progress_done, request.progress_total)
        request.phase = ""
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        log.exception("work request %s (%s) failed", request_id, request.kind)
        return fail(request_id, message_for(error))
    finally:
        with _in_hand_lock:
            _in_hand.discard(request_id)
    return request


def fail(request_id: int, message: str) -> WorkRequest:
    """Mark a request failed with `message` and let its kind mark its own records (commits).

    Retried while the database is busy: the failure is what the page and the jobs page show.
    """

    def save() -> WorkRequest:
        request = db.session.get(WorkRequest, request_id)
        request.status, request.finished_at, request.phase = "failed", clock.now(), ""
        request.error = message[:ERROR_MAX]
        kind = KINDS.get(request.kind)
        if kind is not None and kind.on_failure is not None:
            kind.on_failure(request, request.error)
        db.session.commit()
        return request

    db.session.rollback()
    return retrying(save)


def message_for(error: Exception) -> str:
    """The page's words for a failure: a domain error's own message, else a general one."""
    message = getattr(error, "message", "")
    if message:
        return str(message)
    if is_busy(error):
        return _("The database stayed busy for too long; nothing was changed. Ask again.")
    if isinstance(error, LookupError):
        return str(error)
    return _(
        "The work stopped on an error (%(error)s); nothing was changed. Ask again.",
        error=type(error).__name__,
    )


def report(request: WorkRequest, done: int, total: int | None = None, phase: str = "") -> None:
    """How far a running request has come; commits, so the page's next poll sees it.

    A handler reports between its batches: the commit ends whatever the batch wrote too.
    A report that begins a transaction of its own (nothing else in hand) is retried while
    the database is busy; one that ends a batch holds the write lock already.
    """

    def save() -> None:
        request.progress_done = max(0, done)
        if total is not None:
            request.progress_total = max(0, total)
        request.phase = phase[:20]
        db.session.commit()

    if db.session().in_transaction():
        save()
    else:
        retrying(save)


def recover_abandoned(
    now: datetime, stale_after: timedelta = STALE_AFTER, holder: str | None = None
) -> list[int]:
    """Fail the requests still running long after their claim: their process has died.

    With `holder`, also those that this holder claimed and this process no longer runs (its
    run ended on an error that could not be saved): at once, whatever their age.
    """
    abandoned = WorkRequest.claimed_at < now - stale_after
    if holder is not None:
        with _in_hand_lock:
            in_hand = set(_in_hand)
        abandoned |= (WorkRequest.claimed_by == holder[:120]) & WorkRequest.id.not_in(in_hand)
    statement = select(WorkRequest.id).where(WorkRequest.status == "running", abandoned)
    ids = retrying(lambda: list(db.session.scalars(statement)))
    db.session.rollback()
    message = _("The process doing this work stopped; nothing was changed. Ask again.")
    return [
        request_id for request_id in ids if retrying(lambda i=request_id: _stop(i, now, message))
    ]


def _stop(request_id: int, now: datetime, message: str) -> bool:
    stopped = db.session.execute(
        update(WorkRequest)
        .where(WorkRequest.id == request_id, WorkRequest.status == "running")
        .values(status="failed", finished_at=now, phase="", error=message)
        .execution_options(synchronize_session=False)
    )
    if stopped.rowcount == 1:
        record = db.session.get(WorkRequest, request_id)
        db.session.refresh(record)
        kind = KINDS.get(record.kind)
        if kind is not None and kind.on_failure is not None:
            kind.on_failure(record, message)
    db.session.commit()
    return stopped.rowcount == 1


def drain(holder: str, runner: Any = None, excluded: tuple[str, ...] | None = None) -> list[int]:
    """Do every pending request now, one after another (tests, `flask crm run-work`)."""
    done = []
    while (request := claim_next(holder, clock.now(), excluded)) is not None:
        run(request, runner)
        done.append(request.id)
    return done


def problems(now: datetime, limit: int = 20) -> list[WorkRequest]:
    """The work the admin should know of: stuck (running past STUCK_AFTER), then the recent
    failures, newest first."""
    stuck = db.session.scalars(
        select(WorkRequest)
        .where(WorkRequest.status == "running", WorkRequest.claimed_at < now - STUCK_AFTER)
        .order_by(WorkRequest.claimed_at)
        .limit(limit)
    ).all()
    failed = db.session.scalars(
        select(WorkRequest)
        .where(WorkRequest.status == "failed", WorkRequest.finished_at >= now - SHOWN_FAILURES)
        .order_by(WorkRequest.finished_at.desc(), WorkRequest.id.desc())
        .limit(limit)
    ).all()
    return [*stuck, *failed][:limit]
