"""The scheduler: one leader runs the jobs' due periods; APScheduler's triggers only wake it.

`Runner.tick(now)` is the whole of the scheduling rule: hold the leader lease (or stand by),
then for each job run the latest period that has begun and has not finished (a period
missed while the scheduler was down is caught up; older ones are superseded, since every
job works from the state of the records at `now`), then send the e-mails and the team
webhook messages waiting (crm.services.notices.webhooks: due rows only, retried with
back-off). Tests drive `tick` with explicit times, so processes can be taken through a
simulated day.

The leader lease lives in crm.jobs.lease (an advisory lock, or a row on SQLite).
A job runs as a JobRun row (job, run key, start, end, outcome, counts, error); it commits
after each batch that the job yields, so a crash loses at most one batch. A failed run,
or one left `running` by a previous leader, is run again at the next tick.

Work requests (long work asked for from a page) are picked up on a thread of their own,
so that a long import never delays a reminder; "run now" is such a request, run by the
leader alone, one job at a time. Web workers never start any of this: `flask crm
scheduler` does, or `make run` inside the development server (start_in_dev_server).
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import sys
import threading
import traceback
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from crm import clock
from crm.extensions import db
from crm.jobs import JOBS, Job
from crm.jobs.lease import Health, Lease, LeaseLost, health, make_lease
from crm.models import Delivery, JobRun, WorkRequest
from crm.services.install import work
from crm.services.notices import mail, webhooks
from crm.transactions import retrying, writing

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10
WORK_POLL_SECONDS = 2
ERROR_MAX = 4000
JOB_WORK_KINDS = ("run_job",)
ABANDONED = "Stopped with the scheduler process that ran it (a new leader took over)."


# --- running jobs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """What a tick did with one job (the JobRun row stays in the database)."""

    job: str
    run_key: str
    outcome: str
    counts: dict

    @classmethod
    def of(cls, run: JobRun) -> Ran:
        return cls(run.job, run.run_key, run.outcome, dict(run.counts))


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Runner:
    """Runs due job periods under the lease; one job at a time in this process."""

    def __init__(self, app: Flask, holder: str | None = None) -> None:
        self.app = app
        self.holder = holder or default_holder()
        self.lease: Lease | None = None
        self.jobs_lock = threading.Lock()
        self._closed_for: datetime | None = None

    def current_lease(self) -> Lease:
        """The lease this runner holds or seeks, made on first use."""
        if self.lease is None:
            self.lease = make_lease(self.holder)
        return self.lease

    def tick(self, now: datetime | None = None) -> list[Ran]:
        """Run every job whose latest period is due and unfinished; [] when standing by."""
        with self.app.app_context(), self.jobs_lock, writing():
            try:
                if not self.current_lease().hold(clock.now()):
                    return []
                self._close_abandoned()
                now = now or clock.now()
                runs = [Ran.of(run) for job in JOBS.values() if (run := self.run_due(job, now))]
                send_waiting(now)
                return runs
            finally:
                db.session.remove()

    def _close_abandoned(self) -> None:
        """Once per leadership: runs left `running` by a stopped leader are marked failed.

        The latest period of each job is then run again at once (a failed run is retried);
        an older one is superseded by the periods after it and stays failed, as a record.
        """
        acquired = self.current_lease().acquired_at
        if acquired is None or self._closed_for == acquired:
            return

        def close() -> None:
            db.session.execute(
                update(JobRun)
                .where(JobRun.outcome == "running", JobRun.started_at < acquired)
                .values(outcome="failed", finished_at=clock.now(), error=ABANDONED)
                .execution_options(synchronize_session=False)
            )
            db.session.commit()

        retrying(close)
        self._closed_for = acquired

    def run_due(self, job: Job, now: datetime) -> JobRun | None:
        key = job.key(now)
        run = db.session.scalar(select(JobRun).where(JobRun.job == job.name, JobRun.run_key == key))
        if run is not None and (run.outcome == "ok" or not self._abandoned(run)):
            return None
        return self.execute(job, key, now, run)

    def _abandoned(self, run: JobRun) -> bool:
        """Failed, or left running by a process that led before this one."""
        if run.outcome == "failed":
            return True
        lease = self.current_lease()
        return lease.acquired_at is not None and run.started_at < lease.acquired_at

    def execute(
        self, job: Job, key: str, now: datetime, run: JobRun | None = None
    ) -> JobRun | None:
        """Run one period of a job, committing after each batch; records the outcome."""
        run = self._claim(job, key, run)
        if run is None:
            return None
        run_id = run.id
        totals = {name: value for name, value in run.counts.items() if name != "attempts"}
        attempts = int(run.counts.get("attempts", 0)) + 1

        def count_attempt() -> JobRun:
            counted = db.session.get(JobRun, run_id)
            counted.counts = {**totals, "attempts": attempts}
            db.session.commit()
            return counted

        run = count_attempt() if db.session().in_transaction() else retrying(count_attempt)
        try:
            for counts in job.run(db.session, now):
                for name, value in counts.items():
                    totals[name] = totals.get(name, 0) + value
                run.counts = {**totals, "attempts": attempts}
                db.session.commit()
                if not self.current_lease().hold(clock.now()):
                    raise LeaseLost(job.name)
        except LeaseLost:
            db.session.rollback()
            log.warning("job %s (%s) stopped: this process no longer leads", job.name, key)
            return None
        except Exception:
            db.session.rollback()
            log.exception("job %s (%s) failed; it runs again at the next tick", job.name, key)
            error = traceback.format_exc()[-ERROR_MAX:]
            return retrying(lambda: self._record(run_id, "failed", error))
        # A job's writes end with the batch it yields; anything left commits with the outcome.
        done = lambda: self._record(run_id, "ok")  # noqa: E731
        run = done() if db.session().in_transaction() else retrying(done)
        log.info("job %s (%s) done: %s", job.name, key, run.counts)
        return run

    def _record(self, run_id: int, outcome: str, error: str = "") -> JobRun:
        """A run's outcome, in a transaction of its own (retried while the database is busy)."""
        run = db.session.get(JobRun, run_id)
        run.outcome, run.finished_at = outcome, clock.now()
        if error:
            run.error = error
        db.session.commit()
        return run

    def _claim(self, job: Job, key: str, run: JobRun | None) -> JobRun | None:
        started = clock.now()
        if run is None:
            run = JobRun(job=job.name, run_key=key, started_at=started, outcome="running")
            run.counts = {}
            db.session.add(run)
            try:
                db.session.commit()
            except IntegrityError:  # another runner (an operator's run-job) claimed it first
                db.session.rollback()
                return None
            return run
        run.outcome, run.started_at, run.finished_at, run.error = "running", started, None, ""
        return run

    # --- work requests ---------------------------------------------------------------------

    def work_once(self) -> int | None:
        """Claim and do one pending work request (its id); the leader alone takes "run now"."""
        with self.app.app_context(), writing():
            try:
                lease = self.lease
                kinds = None if lease is not None and lease.held else JOB_WORK_KINDS
                work.recover_abandoned(clock.now(), holder=self.holder)
                request = work.claim_next(self.holder, clock.now(), excluded=kinds)
                if request is None:
                    return None
                request_id = request.id
                work.run(request, self)
                return request_id
            finally:
                db.session.remove()

    def stop(self) -> None:
        with self.app.app_context():
            try:
                if self.lease is not None:
                    self.lease.release()
            finally:
                db.session.remove()


def send_waiting(now: datetime) -> None:
    """Send the e-mails, then the team robot messages, waiting.

    Each queue fails a bad row and goes on by itself; this keeps anything else that goes
    wrong in one queue (its database, a bug) from holding up the other.
    """
    for queue in (mail, webhooks):
        try:
            queue.send_pending(now)
        except Exception:
            db.session.rollback()
            log.exception("%s: the pass stopped; the rest wait for the next one", queue.__name__)


def request_run(actor_id: int | None, job_name: str, now: datetime) -> WorkRequest:
    """Ask the scheduler process to run a job now (the admin's "run now")."""
    if job_name not in JOBS:
        raise KeyError(job_name)
    return work.request("run_job", {"job": job_name}, actor_id, now)


@work.handles("run_job")
def _run_job(request: WorkRequest, runner: Runner | None) -> dict:
    if runner is None:
        raise LeaseLost("only the scheduler process runs jobs")
    job = JOBS[request.arguments["job"]]
    now = clock.now()
    key = f"{job.name}:now-{request.id}"
    with runner.jobs_lock:
        if not runner.current_lease().hold(now):
            raise LeaseLost("another scheduler process leads; ask again")
        run = runner.execute(job, key, now)
    if run is None:
        return {"run_key": key, "outcome": "not run"}
    return {"run_key": key, "outcome": run.outcome, "counts": run.counts}


def run_once(job: Job, now: datetime, holder: str | None = None) -> JobRun | None:
    """Run one job's period for `now` from the command line, under the lease.

    Returns the run, or None when its period had finished already. Raises LeaseLost when a
    scheduler process leads: it runs the jobs, and two runners at once could race.
    """
    runner = Runner(current_app._get_current_object(), holder=holder)
    lease = runner.current_lease()
    if not lease.hold(clock.now()):
        raise LeaseLost("a scheduler process leads")
    try:
        key = job.key(now)
        existing = db.session.scalar(
            select(JobRun).where(JobRun.job == job.name, JobRun.run_key == key)
        )
        if existing is not None and existing.outcome == "ok":
            return None
        run = runner.execute(job, key, now, existing)
        send_waiting(clock.now())
        return run
    finally:
        lease.release()


# --- the process ---------------------------------------------------------------------------


@dataclass
class JobStatus:
    """One job on the admin's page: its last runs, its next period, any "run now" in hand."""

    job: Job
    next_at: datetime
    runs: list[JobRun]
    requests: list[WorkRequest]


@dataclass
class Overview:
    jobs: list[JobStatus]
    health: Health
    pending_mail: int
    flagged_mail: int
    # Work requests stuck or failed lately (imports, "run now"), with their reasons.
    work_problems: list[WorkRequest]

    @property
    def busy(self) -> bool:
        return any(status.requests for status in self.jobs)


def overview(now: datetime, per_job: int = 5) -> Overview:
    """What the admin's jobs page shows: each job's last runs and next run, the process's health."""
    requests = db.session.scalars(
        select(WorkRequest)
        .where(WorkRequest.kind.in_(JOB_WORK_KINDS), WorkRequest.status.in_(("pending", "running")))
        .order_by(WorkRequest.created_at, WorkRequest.id)
    ).all()
    statuses = []
    for name, job in JOBS.items():
        runs = db.session.scalars(
            select(JobRun)
            .where(JobRun.job == name)
            .order_by(JobRun.started_at.desc(), JobRun.id.desc())
            .limit(per_job)
        ).all()
        asked = [request for request in requests if request.arguments.get("job") == name]
        statuses.append(JobStatus(job, job.next_start(now), runs, asked))
    mail_counts = dict(
        db.session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.status.in_(("pending", "flagged")))
            .group_by(Delivery.status)
        ).all()
    )
    return Overview(
        statuses,
        health(now),
        mail_counts.get("pending", 0),
        mail_counts.get("flagged", 0),
        work.problems(now),
    )


def serve(app: Flask, *, background: bool = False, heartbeat: float = HEARTBEAT_SECONDS):
    """Start APScheduler: each job's trigger and a heartbeat wake the runner; work polls apart.

    Blocks (`flask crm scheduler`) unless `background` (inside the development server).
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    runner = Runner(app)
    zone = ZoneInfo(app.config["CRM_TIMEZONE"])
    kind = BackgroundScheduler if background else BlockingScheduler
    scheduler = kind(
        timezone=zone,
        executors={"default": ThreadPoolExecutor(1), "work": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    started = datetime.now(zone)
    for job in JOBS.values():
        trigger = CronTrigger(timezone=zone, **job.schedule.cron())
        scheduler.add_job(runner.tick, trigger, id=f"wake-{job.name}", name=f"wake for {job.name}")
    scheduler.add_job(
        runner.tick, IntervalTrigger(seconds=heartbeat), id="heartbeat", next_run_time=started
    )
    scheduler.add_job(
        runner.work_once,
        IntervalTrigger(seconds=WORK_POLL_SECONDS),
        id="work",
        executor="work",
        next_run_time=started,
    )
    atexit.register(runner.stop)
    app.extensions["crm_scheduler"] = scheduler
    log.info(
        "scheduler %s started (%s)", runner.holder, "background" if background else "own process"
    )
    try:
        scheduler.start()
    finally:
        if not background:
            runner.stop()
    return scheduler


_dev_server_lock = threading.Lock()


def start_in_dev_server(app: Flask, environ: dict) -> bool:
    """Start the scheduler in the development server's process, once, if configured.

    Called on each request; only Werkzeug's development server starts it. That is the
    serving process: the reloader's watcher never serves, so it never starts a second one,
    and gunicorn's workers never start one whatever the configuration says.
    """
    if not app.config.get("CRM_SCHEDULER_IN_DEV_SERVER") or "crm_scheduler" in app.extensions:
        return False
    if not str(environ.get("SERVER_SOFTWARE", "")).startswith("Werkzeug/"):
        return False
    with _dev_server_lock:
        if "crm_scheduler" in app.extensions:
            return False
        serve(app, background=True)
    # Said where the development server says what it does, so that one line per start shows.
    print(f" * Scheduler running in this process ({default_holder()})", file=sys.stderr)
    return True
