"""Times the daily sweep (crm.jobs.daily) over a demo install of N factories; `make bench`.

The data set is made once with `flask crm seed-demo --factories N` and kept (a SQLite file
under instance/bench/, or a PostgreSQL database), then copied afresh for each scenario so
that every run starts from the same rows:

- as seeded: the first sweep of the day (it notifies the newly stale and eligible factories);
- run again: the same day's sweep once more (the steady state: nothing new to do);
- one in five follow-ups gone: the open follow-ups of a fifth of the factories cancelled, so
  that the cadence step creates that many (a day after a large import, say). A stress case
  beyond the issue's limit, which is for the demo install as seeded: reported, not judged.

Each run goes through the scheduler's runner as in production (a batch, a commit). After each
sweep the nightly retention job (crm.jobs.retention) runs too, timed on its own and not
counted in the sweep's limit: as seeded it finds what the demo's history holds past its
periods; run again it finds nothing. The Markdown table goes to bench/results/ with the
machine, the date and the commit.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DATA = ROOT / "instance" / "bench"
LIMIT_SECONDS = 30.0
STEP_OF = {
    "follow_ups_created": "cadence",
    "stale_notified": "stale",
    "eligible_notified": "eligibility",
    "eligibility_lost": "eligibility",
}


@dataclass
class Outcome:
    scenario: str
    limited: bool
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    outcome: str = ""
    retention_seconds: float = 0.0
    retention_counts: dict[str, int] = field(default_factory=dict)
    retention_outcome: str = ""


# --- the data set -------------------------------------------------------------------------------


def flask(url: str, *arguments: str) -> None:
    env = dict(os.environ, CRM_DATABASE_URL=url, FLASK_APP="crm", CRM_ENV="development")
    subprocess.run([sys.executable, "-m", "flask", *arguments], check=True, env=env, cwd=ROOT)


def factory_count(url: str) -> int | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT count(*) FROM factories"))
    except Exception:
        return None
    finally:
        engine.dispose()


def ensure_data_set(url: str, factories: int) -> None:
    """Seed the kept data set unless it holds exactly `factories` factories already."""
    if factory_count(url) == factories:
        print(f"reusing the data set at {make_url(url).render_as_string()}", flush=True)
        return
    print(f"seeding {factories} factories (once; kept for later runs)...", flush=True)
    reset(url)
    flask(url, "db", "upgrade")
    flask(url, "crm", "seed-demo", "--factories", str(factories))
    analyse(url)


def analyse(url: str) -> None:
    """Fresh planner statistics, as autovacuum would have made on a live install."""
    if make_url(url).get_backend_name() != "postgresql":
        return
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def reset(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    with admin_engine(url).connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))


def admin_engine(url: str):
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def scratch_copy(url: str) -> str:
    """A fresh copy of the kept data set for one scenario (a file copy, or a template)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        scratch = parsed.database.replace(".sqlite3", "-scratch.sqlite3")
        for suffix in ("-wal", "-shm"):
            Path(scratch + suffix).unlink(missing_ok=True)
        shutil.copyfile(parsed.database, scratch)
        return parsed.set(database=scratch).render_as_string(hide_password=False)
    name = f"{parsed.database}_scratch"
    with admin_engine(url).connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
    return parsed.set(database=name).render_as_string(hide_password=False)


# --- one run --------------------------------------------------------------------------------------


def sweep(
    url: str, scenario: str, limited: bool, *, again: bool = False, drop_fifth: bool = False
) -> Outcome:
    from crm import clock, create_app
    from crm.extensions import db
    from crm.jobs import JOBS, Job, scheduler
    from crm.models import FollowUp

    app = create_app("development", SQLALCHEMY_DATABASE_URI=url)
    marks: list[tuple[float, dict]] = []

    def timed(session, now):
        for counts in JOBS["daily"].run(session, now):
            marks.append((time.perf_counter(), counts))
            yield counts

    job = Job("daily", JOBS["daily"].title, JOBS["daily"].schedule, timed)
    with app.app_context():
        now = clock.now()
        if drop_fifth:
            db.session.execute(
                update(FollowUp)
                .where(FollowUp.status == "open", FollowUp.factory_id % 5 == 0)
                .values(status="cancelled", completed_at=now)
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
        runner = scheduler.Runner(app, holder="bench")
        runs = 2 if again else 1
        for number in range(runs):
            marks.clear()
            started = time.perf_counter()
            run = runner.execute(job, f"daily:bench-{number}-{time.time_ns()}", now)
            seconds = time.perf_counter() - started
            kept_started = time.perf_counter()
            kept = runner.execute(
                JOBS["retention"], f"retention:bench-{number}-{time.time_ns()}", now
            )
            kept_seconds = time.perf_counter() - kept_started
        steps: dict[str, float] = {}
        previous = started
        for at, counts in marks:
            step = next((STEP_OF[name] for name in counts if name in STEP_OF), "other")
            steps[step] = steps.get(step, 0.0) + at - previous
            previous = at
        steps["other"] = steps.get("other", 0.0) + started + seconds - previous
        counts = {name: value for name, value in run.counts.items() if name != "attempts"}
        outcome = run.outcome
        kept_counts = {name: value for name, value in kept.counts.items() if name != "attempts"}
        kept_outcome = kept.outcome
        runner.stop()
        db.session.remove()
        db.engine.dispose()
    return Outcome(
        scenario, limited, seconds, steps, counts, outcome, kept_seconds, kept_counts, kept_outcome
    )


# --- the report -------------------------------------------------------------------------------


def machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kilobytes = int(meminfo.read_text().split()[1])
        memory = f", {kilobytes / 1024 / 1024:.1f} GiB RAM"
    load = f", load average {os.getloadavg()[0]:.1f} (others' work shares these cores)"
    return (
        f"{model or platform.processor()}, {os.cpu_count()} CPUs{memory}, "
        f"{platform.platform()}{load}"
    )


def commit() -> str:
    def git(*arguments: str) -> str:
        result = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    # The tables a run has just written under bench/results/ are not a change of the code.
    changed = git("status", "--porcelain", "--", ".", ":(exclude)bench/results")
    return head + (" (with uncommitted changes)" if changed else "")


def database_version(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                return "SQLite " + connection.scalar(text("select sqlite_version()"))
            return "PostgreSQL " + connection.scalar(text("show server_version"))
    finally:
        engine.dispose()


def report(url: str, factories: int, outcomes: list[Outcome]) -> str:
    def fmt(seconds: float) -> str:
        return f"{seconds:.1f}"

    lines = [
        f"# Daily sweep over {factories:,} factories",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- commit: {commit()}",
        f"- machine: {machine()}",
        f"- database: {database_version(url)}",
        f"- Python {platform.python_version()}; limit {LIMIT_SECONDS:.0f} s for the demo "
        "install as seeded (issue 5)",
        "",
        "| scenario | total s | cadence s | stale s | eligibility s | counts | within limit "
        "| retention s | retention counts |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |",
    ]
    for item in outcomes:
        counts = ", ".join(f"{name} {value:,}" for name, value in item.counts.items()) or "none"
        verdict = "yes" if within(item) else "NO"
        if not item.limited:
            verdict = "stress case: no limit" if item.outcome == "ok" else "FAILED"
        lines.append(
            f"| {item.scenario} | {fmt(item.seconds)} | {fmt(item.steps.get('cadence', 0))} "
            f"| {fmt(item.steps.get('stale', 0))} | {fmt(item.steps.get('eligibility', 0))} "
            f"| {counts} | {verdict} | {fmt(item.retention_seconds)} | {retained(item)} |"
        )
    return "\n".join(lines) + "\n"


def retained(item: Outcome) -> str:
    """The retention run's counts (those above zero), or its failure."""
    if item.retention_outcome != "ok":
        return "FAILED"
    counts = ", ".join(
        f"{name} {value:,}" for name, value in item.retention_counts.items() if value
    )
    return counts or "nothing to do"


def within(item: Outcome) -> bool:
    return item.outcome == "ok" and (not item.limited or item.seconds < LIMIT_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factories", type=int, default=100_000)
    parser.add_argument(
        "--database",
        default=None,
        help="a PostgreSQL URL for the kept data set (default: a SQLite file in instance/bench)",
    )
    arguments = parser.parse_args(argv)
    url = arguments.database
    if not url:
        DATA.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{DATA / f'demo-{arguments.factories}.sqlite3'}"
    ensure_data_set(url, arguments.factories)
    outcomes = []
    for scenario, limited, options in (
        ("as seeded", True, {}),
        ("run again the same day", True, {"again": True}),
        ("one in five follow-ups gone", False, {"drop_fifth": True}),
    ):
        print(f"sweep: {scenario}...", flush=True)
        outcomes.append(sweep(scratch_copy(url), scenario, limited, **options))
        print(f"  {outcomes[-1].seconds:.1f} s {outcomes[-1].counts}", flush=True)
    text_ = report(url, arguments.factories, outcomes)
    RESULTS.mkdir(parents=True, exist_ok=True)
    backend = make_url(url).get_backend_name()
    path = RESULTS / f"daily-sweep-{backend}-{datetime.now(UTC):%Y%m%d-%H%M}.md"
    path.write_text(text_, encoding="utf-8")
    print(f"\n{text_}\nwritten to {path.relative_to(ROOT)}")
    return 0 if all(within(item) for item in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
