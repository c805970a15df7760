"""The load test on SQLite, the embedded default: `python -m bench.sqlite_load`.

    python -m bench.sqlite_load --seconds 60 --reps 50     # README "SQLite: what it carries"

One host as `make serve` runs it, on one SQLite file: gunicorn's workers and the scheduler
process (`flask crm scheduler`), started together, so that the scheduler catches up its jobs
(reminders, the daily sweep over a few thousand factories, the digest) while the reps sign
in. Then, for the time asked, the simulated reps of bench/load.py log visits over the API
(the outbox's exactly-once retries), read their pages and sign in again now and then, while
a manager's import of 5,000 factories is checked and then applied by the scheduler's work
thread. The verdict: no answer 503 (a write that waited for SQLite's lock instead of
failing) or 500, no visit lost or stored twice, every job run and the import finished.
tests/unit/test_sqlite_load.py runs it for 20 seconds with 20 reps.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from bench import load

IMPORT_ROWS = 5_000
SWEEP_FACTORIES = 2_000
IMPORT_TIMEOUT = 300.0
LOGIN_SHARE = 0.1  # of a rep's actions: sign in again, as a phone whose session ended


@dataclass
class SqliteLoadResult:
    load: load.LoadResult
    import_status: str
    import_counts: dict
    import_seconds: float | None
    import_error: str
    job_outcomes: dict[str, int]
    logins: collections.Counter
    scheduler_errors: int
    problems: list[str] = field(default_factory=list)
    report: str = ""


class SigningRep(load.SimulatedRep):
    """A rep of bench/load.py who also signs in again now and then (each answer counted)."""

    def login(self) -> None:
        self.cookies = {}
        status, headers, started, took = self.post_login()
        # A signed-in person is sent on (303); the test counts that as a good answer.
        status = 200 if status in (302, 303) else status
        sample = load.Sample("login", status, started, took)
        sample.retry_after = headers.get("retry-after")
        self.ledger.add(sample)

    def run(self, start_at: float, end_at: float) -> None:
        while time.monotonic() < start_at:
            time.sleep(0.01)
        while time.monotonic() < end_at:
            roll = self.random.random()
            if roll < LOGIN_SHARE:
                self.login()
            elif roll < 0.45:
                self.visit(end_at + load.DRAIN_SECONDS)
            elif roll < 0.65:
                self.page("today", "/today")
            elif roll < 0.85:
                self.page("factories", "/factories/")
            else:
                self.page("factory", f"/factories/{self.random.choice(self.rep.factory_ids)}")
            time.sleep(self.random.uniform(0, 2 * self.think))


def _app(url: str, storage: str):
    from crm import create_app

    return create_app("development", SQLALCHEMY_DATABASE_URI=url, CRM_STORAGE_ROOT=storage)


def add_sweep_work(url: str, storage: str, factories: int) -> None:
    """Factories for the scheduler's catch-up: each needs a cadence follow-up, and is stale."""
    from crm.extensions import db
    from crm.models import Factory, User
    from tests import builders

    app = _app(url, storage)
    now = datetime.now(UTC)
    with app.app_context():
        owner = db.session.scalar(db.select(User).where(User.role == "rep").limit(1))
        belt = owner.team.belts[0]
        db.session.add_all(
            Factory(
                name=f"Sweep factory {n}",
                credit_code=builders.credit_code(300_000 + n),
                belt=belt,
                owner=owner,
                status="active",
                stage="elementary",
                stage_entered_at=now - timedelta(days=90),
                last_visit_at=now - timedelta(days=60),
            )
            for n in range(factories)
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


class Importer(threading.Thread):
    """A manager's import, done as the pages do it: staged, checked by the scheduler process,
    confirmed, applied by it; the thread waits for each step as the page polls."""

    def __init__(self, url: str, storage: str, rows: int) -> None:
        super().__init__(name="importer", daemon=True)
        self.url, self.storage, self.rows = url, storage, rows
        self.status, self.counts, self.seconds = "not started", {}, None
        self.error: BaseException | None = None

    def run(self) -> None:
        from crm.transactions import writing

        try:
            # A page's writes begin with SQLite's write lock (a POST); so do this thread's.
            with writing():
                self._run()
        except BaseException as error:  # reported in the verdict
            self.error = error

    def _run(self) -> None:
        from crm.extensions import db
        from crm.models import Belt, ImportRun, User
        from crm.services.imports import runs
        from tests import builders

        app = _app(self.url, self.storage)
        started = time.monotonic()
        with app.app_context():
            admin = db.session.scalar(db.select(User).where(User.role == "admin"))
            belt_code = db.session.scalar(db.select(Belt.code).limit(1))
            lines = ["统一社会信用代码,企业名称,产业带"] + [
                f"{builders.credit_code(600_000 + n)},负载导入工厂{n},{belt_code}"
                for n in range(self.rows)
            ]
            data = ("\r\n".join(lines) + "\r\n").encode()
            now = datetime.now(UTC)
            run = runs.upload(admin, "factories", "load.csv", data, now)
            runs.check(admin, run, now, "en", inline=False)
            db.session.commit()
            run_id = run.id
            self.status = self._wait(run_id, ("checking",), started)
            if self.status != "checked":
                return
            run = db.session.get(ImportRun, run_id)
            runs.confirm(admin, run, datetime.now(UTC))
            db.session.commit()
            self.status = self._wait(run_id, ("applying",), started)
            self.counts = dict(db.session.get(ImportRun, run_id).counts)
            self.seconds = time.monotonic() - started
            db.session.remove()
            db.engine.dispose()

    def _wait(self, run_id: int, busy: tuple[str, ...], started: float) -> str:
        from crm.extensions import db
        from crm.models import ImportRun

        while time.monotonic() - started < IMPORT_TIMEOUT:
            status = db.session.get(ImportRun, run_id).status
            # Ended before the pause: under writing() the read holds SQLite's write lock.
            db.session.rollback()
            if status not in busy:
                return status
            time.sleep(0.5)
        return "timed out"


def make_admin(url: str, storage: str) -> None:
    from werkzeug.security import generate_password_hash

    from crm.extensions import db
    from crm.models import User

    app = _app(url, storage)
    with app.app_context():
        db.session.add(
            User(
                role="admin",
                name="Load admin",
                email="load-admin@example.test",
                password_hash=generate_password_hash(load.PASSWORD, method="scrypt:1024:8:1"),
                active=True,
            )
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def run_sqlite_load(
    seconds: float,
    reps: int,
    *,
    import_rows: int = IMPORT_ROWS,
    sweep_factories: int = SWEEP_FACTORIES,
    workers: int = 2,
    think: float = 1.0,
    log: load.Log = print,
) -> SqliteLoadResult:
    folder = Path(tempfile.mkdtemp(prefix="crm-sqlite-load-"))
    url = f"sqlite:///{folder / 'crm.sqlite3'}"
    storage = str(folder / "storage")
    server = scheduler = None
    keep = True  # until a clean verdict: whatever went wrong, its logs stay
    try:
        people = load.make_reps(url, storage, reps, log)
        add_sweep_work(url, storage, sweep_factories)
        make_admin(url, storage)
        scheduler_log = open(folder / "scheduler.log", "w")  # noqa: SIM115 (closed below)
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "flask", "crm", "scheduler"],
            cwd=load.ROOT,
            env=load.server_env(url, storage),
            stdout=scheduler_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = load.Server(url, storage, workers, folder / "gunicorn.log")
        ledger = load.Ledger()
        photos = [load.photo(seed) for seed in range(8)]
        simulated = [SigningRep(rep, server.port, ledger, photos, think) for rep in people]
        # Everyone signs in at once while the scheduler catches up (`make run`, then log in).
        threads = [threading.Thread(target=s.login) for s in simulated]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        importer = Importer(url, storage, import_rows)
        importer.start()
        start_at = load.work(simulated, seconds)
        importer.join(timeout=IMPORT_TIMEOUT)
        elapsed = time.monotonic() - start_at
        server.stop()
        result, server_errors = load.judged(url, ledger, server, reps, elapsed)
        stop(scheduler)
        scheduler_log.close()
        scheduler_text = (folder / "scheduler.log").read_text(errors="replace")
        outcome = job_outcomes(url)
        verdict = SqliteLoadResult(
            load=result,
            import_status=importer.status,
            import_counts=importer.counts,
            import_seconds=importer.seconds,
            import_error=repr(importer.error) if importer.error else "",
            job_outcomes=outcome,
            logins=collections.Counter(s.status for s in ledger.samples if s.kind == "login"),
            scheduler_errors=len(re.findall(r"Traceback|database is locked", scheduler_text)),
            problems=list(result.problems),
        )
        judge(verdict, import_rows)
        verdict.report = report(verdict, server_errors)
        log(verdict.report)
        keep = bool(verdict.problems)
        if keep:
            verdict.problems.append(f"logs kept in {folder}")
        return verdict
    finally:
        if server is not None:
            server.stop()
        if scheduler is not None:
            stop(scheduler)
        if keep:
            log(f"the database and the logs are kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if a work request in hand keeps it past 30 seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def job_outcomes(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT outcome, count(*) FROM job_runs GROUP BY outcome"))
        outcomes = {outcome: count for outcome, count in rows}
    engine.dispose()
    return outcomes


def judge(verdict: SqliteLoadResult, import_rows: int) -> None:
    problems = verdict.problems  # bench.load.judge has counted the 503s and 500s already
    if verdict.import_status != "done":
        problems.append(f"the import ended {verdict.import_status!r}, not done")
    elif verdict.import_counts.get("created") != import_rows:
        problems.append(f"the import made {verdict.import_counts}, not {import_rows} factories")
    if verdict.job_outcomes.get("failed") or not verdict.job_outcomes.get("ok"):
        problems.append(f"job runs: {verdict.job_outcomes}")
    if verdict.scheduler_errors:
        problems.append(f"{verdict.scheduler_errors} errors in the scheduler's log")
    if set(verdict.logins) - {200}:
        problems.append(f"sign-ins answered {dict(verdict.logins)}")


def report(verdict: SqliteLoadResult, server_errors: int) -> str:
    text_ = load.report(verdict.load, server_errors).replace(
        "against gunicorn on PostgreSQL", "against gunicorn and the scheduler on one SQLite file"
    )
    lines = [line for line in text_.splitlines() if not line.startswith("- verdict")]
    took = f"{verdict.import_seconds:.1f} s" if verdict.import_seconds is not None else "-"
    lines += [
        f"- sign-ins: {sum(verdict.logins.values())} ({dict(verdict.logins)})",
        f"- import: {verdict.import_status} in {took} {verdict.import_counts}"
        + (f"; error: {verdict.import_error}" if verdict.import_error else ""),
        f"- job runs by outcome: {verdict.job_outcomes}; scheduler log errors: "
        f"{verdict.scheduler_errors}",
        "- verdict: " + ("; ".join(verdict.problems) if verdict.problems else "ok"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sqlite_load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between requests")
    parser.add_argument("--import-rows", type=int, default=IMPORT_ROWS)
    options = parser.parse_args(argv)
    verdict = run_sqlite_load(
        options.seconds,
        options.reps,
        import_rows=options.import_rows,
        workers=options.workers,
        think=options.think,
    )
    return 1 if verdict.problems else 0


if __name__ == "__main__":
    sys.exit(main())
