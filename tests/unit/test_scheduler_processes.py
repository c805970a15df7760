"""Scheduler processes, for real: two against one PostgreSQL database through a simulated day
(every reminder and cadence follow-up exactly once, and killing the leader lets the standby
carry on); the development server runs the jobs in its one serving process; gunicorn's
workers start none.

The simulated day: the test is the clock, from 04:00 to 22:00 a quarter of an hour at a
time, and each process ticks every step as `flask crm scheduler` ticks the real clock
(run this module with `drive`); a step is taken once every live process has ticked the
last, so a busy machine slows the day down but never skips a period.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text

from crm.jobs import JOBS

ROOT = Path(__file__).resolve().parents[2]
MIDNIGHT = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # Monday 30 Nov 2026, 00:00 in Shanghai
SIM_START = MIDNIGHT + timedelta(hours=4)  # the simulated day runs from 04:00 to 22:00 local
SIM_END = MIDNIGHT + timedelta(hours=22)
STEP_SIM = timedelta(minutes=15)  # each tick moves the simulated clock a period on
STEPS = int((SIM_END - SIM_START) / STEP_SIM)
# Steps after the kill within which the standby must lead (each step waits for every process).
TAKEOVER_STEPS = 4
KILL_AT = int((timedelta(hours=8, minutes=30) - timedelta(hours=4)) / STEP_SIM)  # 08:30
STOP = -1


# --- the driver: one scheduler process on the shared simulated clock --------------------------


def simulated(step: int) -> datetime:
    return SIM_START + step * STEP_SIM


def drive(database_url: str, holder: str, clock_file: str) -> None:
    """Tick each step of the shared clock once, as it is set; stop when it says STOP."""
    from crm import create_app
    from crm.jobs import scheduler

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    runner = scheduler.Runner(app, holder=holder)
    print(json.dumps({"ready": holder}), flush=True)
    step = 0
    while True:
        with contextlib.suppress(ValueError, OSError):
            target = int(Path(clock_file).read_text() or 0)
            if target == STOP:
                break
            if target > step:
                step = target
                ran = runner.tick(simulated(step))
                leading = runner.lease is not None and runner.lease.held
                keys = [r.run_key for r in ran]
                print(json.dumps({"step": step, "leading": leading, "ran": keys}), flush=True)
                continue
        time.sleep(0.005)
    runner.stop()


class Process:
    """A driver process whose output lines are read as they come."""

    def __init__(self, database_url: str, holder: str, clock_file: Path) -> None:
        self.holder = holder
        self.ready = False
        self.lines: list[dict] = []
        arguments = [database_url, holder, str(clock_file)]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.unit.test_scheduler_processes", "drive", *arguments],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        decoder = json.JSONDecoder()
        for raw in self.process.stdout:
            # A line cut short by the kill, or anything else printed, is not a tick's report.
            with contextlib.suppress(ValueError):
                line, _end = decoder.raw_decode(raw)
                if isinstance(line, dict) and "step" in line:
                    self.lines.append(line)
                elif isinstance(line, dict) and "ready" in line:
                    self.ready = True

    def reported(self, step: int) -> bool:
        return bool(self.lines) and self.lines[-1]["step"] >= step

    def leads(self) -> bool:
        return bool(self.lines) and self.lines[-1]["leading"]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def finish(self, timeout: float) -> str:
        try:
            _out, errors = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _out, errors = self.process.communicate()
        self.reader.join(timeout=5)
        return errors or ""


def all_reported(processes: list[Process], step: int) -> bool:
    return all(process.reported(step) for process in processes)


def wait_for(condition, timeout: float, message: str) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


@pytest.mark.postgres_only
def test_two_scheduler_processes_through_a_day_do_everything_once_and_survive_a_kill(
    database_url, live_db, tmp_path
):
    from crm.jobs import scheduler
    from crm.models import Factory, FollowUp, JobRun, Notification
    from tests import builders

    team = builders.team()
    belt = builders.belt(team)
    reps = [builders.user("rep", team_=team) for _ in range(2)]
    builders.user("manager", leads=[team])
    planned = []
    for n in range(12):  # follow-ups due through the day, from 06:00 to 20:40 local
        factory = builders.factory(belt, owner=reps[n % 2], last_visit_at=SIM_START)
        due = MIDNIGHT + timedelta(hours=6, minutes=80 * n)
        planned.append(builders.follow_up(factory, reps[n % 2], due))
    bare = [builders.factory(belt, owner=reps[n % 2]) for n in range(8)]  # no follow-up yet
    live_db.commit()
    bare_ids = [factory.id for factory in bare]

    clock_file = tmp_path / "clock"
    clock_file.write_text("0")
    first = Process(database_url, "process-a", clock_file)
    second = Process(database_url, "process-b", clock_file)
    alive = [first, second]
    leader = standby = None
    try:
        wait_for(lambda: first.ready and second.ready, 30, "the processes did not start")
        for step in range(1, STEPS + 1):
            # The test is the clock: a step is set once every live process ticked the last.
            clock_file.write_text(str(step))
            if step == KILL_AT:
                time.sleep(0.02)  # the leader is busy with the step's work
                leader.kill()  # SIGKILL: no goodbye, no lease released, work cut off
                alive = [standby]
            wait_for(partial(all_reported, alive, step), 20, f"step {step} hung")
            if step == 1:
                (leader,) = [p for p in alive if p.leads()]
                (standby,) = [p for p in alive if p is not leader]
        clock_file.write_text(str(STOP))
        errors = standby.finish(timeout=20)
        assert standby.process.returncode == 0, errors
    finally:
        clock_file.write_text(str(STOP))
        for process in (first, second):
            if process.process.poll() is None:
                process.kill()

    assert all(line["leading"] for line in leader.lines) and len(leader.lines) >= KILL_AT - 1
    assert not any(line["leading"] for line in standby.lines[: KILL_AT - 1])
    # It leads from the step of the kill, or a few steps later: PostgreSQL frees the killed
    # leader's advisory lock only when its backend notices the closed connection, which on a
    # busy machine can take a step or two. From then on it leads every step.
    after = standby.lines[KILL_AT - 1 :]
    took_over = next((n for n, line in enumerate(after) if line["leading"]), None)
    assert took_over is not None and took_over <= TAKEOVER_STEPS, "the standby did not take over"
    assert all(line["leading"] for line in after[took_over:]), "the standby lost the lead"
    assert any(line["ran"] for line in after), "the standby ran nothing after the kill"

    live_db.expire_all()
    runs = live_db.execute(select(JobRun.run_key, JobRun.outcome, JobRun.error)).all()
    # A run the kill cut off is closed as failed by the new leader (and run again if its
    # period is still the latest); nothing is left running.
    failed = [(key, error) for key, outcome, error in runs if outcome != "ok"]
    assert len(failed) <= 1 and all(error == scheduler.ABANDONED for _, error in failed)
    keys = [key for key, _, _ in runs]
    assert {"daily:2026-11-30", "digest:2026-W49"} <= set(keys)
    assert len(keys) == len(set(keys))
    # Every reminder exactly once, whoever led when it fell due.
    follow_ups = live_db.scalars(select(FollowUp).where(FollowUp.status == "open")).all()
    due_in_day = [f for f in follow_ups if SIM_START + timedelta(hours=1) < f.due_at < SIM_END]
    assert len(due_in_day) == len(planned) + len(bare)
    for follow_up in due_in_day:
        for kind in ("follow_up_due_soon", "follow_up_overdue"):
            count = live_db.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.dedupe_key.like(f"{kind}:{follow_up.id}:%"))
            )
            assert count == 1, (kind, follow_up.id, follow_up.due_at)
    # Every cadence follow-up exactly once.
    for factory_id in bare_ids:
        open_ones = live_db.scalars(
            select(FollowUp).where(FollowUp.factory_id == factory_id, FollowUp.status == "open")
        ).all()
        assert [f.origin for f in open_ones] == ["cadence"]
        assert live_db.get(Factory, factory_id).next_follow_up_at == open_ones[0].due_at


# --- the development server and gunicorn ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def scratch_database(tmp_path):
    """A migrated SQLite file of its own for a server started by the test."""
    from crm import create_app
    from crm.extensions import db

    url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def start_server(command: list[str], url: str) -> subprocess.Popen:
    env = dict(
        os.environ,
        CRM_ENV="development",
        CRM_DATABASE_URL=url,
        FLASK_APP="crm",
        CRM_SCHEDULER_IN_DEV_SERVER="1",  # set even for gunicorn: its workers must ignore it
    )
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def answered(port: int, path: str = "/healthz") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def rows(url: str, table: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(f"SELECT * FROM {table}")).all()
    finally:
        engine.dispose()


def stop(server: subprocess.Popen) -> str:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        _out, errors = server.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        _out, errors = server.communicate()
    return errors


def test_the_development_server_runs_the_jobs_in_one_process_even_with_the_reloader(
    scratch_database,
):
    port = free_port()
    server = start_server(
        [sys.executable, "-m", "flask", "run", "--port", str(port), "--reload"], scratch_database
    )
    problem = None
    try:
        wait_for(lambda: answered(port), 30, "the development server did not answer")
        # A run's row exists from its start: wait until every job has finished, not begun.
        wait_for(
            lambda: (
                [row.outcome for row in rows(scratch_database, "job_runs")] == ["ok"] * len(JOBS)
            ),
            60,
            "the jobs did not run to their end",
        )
        (lease,) = rows(scratch_database, "scheduler_leases")
        holder_pid = int(lease.holder.rsplit(":", 1)[1])
        assert holder_pid != server.pid  # the reloader's child serves, its watcher does not
    except AssertionError as error:
        problem = error
    finally:
        errors = stop(server)
    assert problem is None, f"{problem}\n{errors}"
    assert errors.count("Scheduler running in this process") == 1, errors
    assert {row.outcome for row in rows(scratch_database, "job_runs")} == {"ok"}


def test_gunicorn_workers_start_no_scheduler(scratch_database):
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = start_server(
        [gunicorn, "--workers", "2", "--bind", f"127.0.0.1:{port}", "crm:create_app()"],
        scratch_database,
    )
    problem = None
    try:
        wait_for(lambda: answered(port), 30, "gunicorn did not answer")
        for path in ("/healthz", "/login", "/healthz", "/login", "/healthz", "/login"):
            assert answered(port, path)
        time.sleep(2)  # a scheduler would have ticked at once
        assert rows(scratch_database, "job_runs") == []
        assert rows(scratch_database, "scheduler_leases") == []
    except AssertionError as error:
        problem = error
    finally:
        errors = stop(server)
    assert problem is None, f"{problem}\n{errors}"
    assert "Scheduler running" not in errors


if __name__ == "__main__" and sys.argv[1:2] == ["drive"]:
    drive(sys.argv[2], sys.argv[3], sys.argv[4])
