"""The `flask crm` command group: init, calendar, create-user, seed-demo, scheduler, run-job,
backup, storage migrate."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from crm import clock
from crm.demo import seed as demo
from crm.errors import Invalid
from crm.extensions import db
from crm.services.accounts import users
from crm.services.calendar import holidays
from crm.services.growth import catalogue
from crm.transactions import writing

CLI_ACTOR = "cli"


@click.group("crm")
def crm_group() -> None:
    """Factory Growth CRM administration."""
    # A command may write while the app serves: on SQLite it takes the write lock when each
    # transaction begins, and so waits for the server instead of failing (crm.transactions).
    click.get_current_context().with_resource(writing())


@crm_group.command("init")
@with_appcontext
def init_command() -> None:
    """Install the default metrics, stages and checklists (safe to run again)."""
    added = catalogue.install_defaults()
    seeded = holidays.seed_new_install(CLI_ACTOR, clock.today())
    db.session.commit()
    click.echo(
        f"defaults installed: {added['metrics']} metrics, {added['stages']} stages, "
        f"{added['templates']} task templates added"
    )
    _echo_calendar(seeded)


@crm_group.command("calendar")
@click.option("--year", "years", type=int, multiple=True, help="A year (repeat for more).")
@with_appcontext
def calendar_command(years: tuple[int, ...]) -> None:
    """Add China's public holidays and make-up working days of the current and next year
    (or of each --year) from the chinesecalendar library; days already there are kept."""
    today = clock.today()
    wanted = years or (today.year, today.year + 1)
    seeded = {}
    for year in wanted:
        try:
            seeded[year] = holidays.seed_year(CLI_ACTOR, holidays.check_year(year, today))
        except Invalid as error:
            raise click.BadParameter(error.message, param_hint="--year") from None
    db.session.commit()
    _echo_calendar(seeded)


def _echo_calendar(seeded: dict[int, int]) -> None:
    for year, count in seeded.items():
        if count:
            click.echo(f"calendar {year}: {count} holidays and make-up working days added")
        elif not holidays.library_has(year):
            click.echo(
                f"calendar {year}: chinesecalendar has no data for {year} yet; "
                "enter its holidays on the admin's Calendar page",
                err=True,
            )
        else:
            click.echo(f"calendar {year}: nothing to add")


@crm_group.command("create-user")
@click.option("--role", required=True, type=click.Choice(["admin", "manager", "rep", "factory"]))
@click.option("--login", required=True, help="E-mail or mobile number.")
@click.option("--name", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--factory", "factory_id", type=int, help="The factory of a factory user.")
@click.option("--belts", default="", help="Comma-separated belt codes (reps and managers).")
@click.option("--locale", type=click.Choice(["en", "zh_Hans"]))
@with_appcontext
def create_user_command(role, login, name, password, factory_id, belts, locale) -> None:
    """Create a user; a rep joins the team of the belts, a manager leads their teams."""
    codes = tuple(code.strip() for code in belts.split(",") if code.strip())
    try:
        user = users.create_user(
            CLI_ACTOR,
            role=role,
            name=name,
            login=login,
            password=password,
            factory_id=factory_id,
            belt_codes=codes,
            locale=locale,
        )
    except Invalid as error:
        db.session.rollback()
        for field, message in error.fields.items():
            click.echo(f"{field}: {message}", err=True)
        raise SystemExit(2) from None
    db.session.commit()
    click.echo(f"created {user.role} {user.login} (id {user.id})")


@crm_group.command("seed-demo")
@click.option(
    "--factories",
    default=demo.DEFAULT_FACTORIES,
    show_default=True,
    type=click.IntRange(min=demo.MIN_FACTORIES),
    help="How many demo factories to make.",
)
@click.option(
    "--if-empty", is_flag=True, help="Seed only an empty database; else just list logins."
)
@click.option("--seed", default=demo.DEFAULT_SEED, show_default=True, help="The random seed.")
@with_appcontext
def seed_demo_command(factories: int, if_empty: bool, seed: int) -> None:
    """Fill the database with the demo install and print its logins."""
    catalogue.install_defaults()
    holidays.seed_new_install(CLI_ACTOR, clock.today())
    db.session.commit()
    present = demo.demo_present()
    if present:
        click.echo("The demo logins exist already; nothing added.", err=not if_empty)
    elif if_empty and not demo.is_empty():
        click.echo("The database holds users or factories already; no demo added.")
        return
    else:
        started = time.perf_counter()
        counts = demo.seed_demo(CLI_ACTOR, factories=factories, seed=seed)
        db.session.commit()
        click.echo(
            f"demo seeded in {time.perf_counter() - started:.1f} s: {counts.belts} belts, "
            f"{counts.users} users, {counts.factories} factories, {counts.tasks} tasks, "
            f"{counts.visits} visits, {counts.snapshots} snapshots, "
            f"{counts.follow_ups} follow-ups, {counts.stage_changes} stage changes"
        )
    _print_logins(demo.demo_logins())
    if present and not if_empty:
        raise SystemExit(1)


def _print_logins(rows: list[tuple[str, str, str]]) -> None:
    click.echo(f"\nDemo logins, all with the password {demo.DEMO_PASSWORD}:")
    width = max(len(login) for login, _, _ in rows)
    for login, role, holds in rows:
        click.echo(f"  {login:<{width}}  {role:<8} {holds}")


@crm_group.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduler process: the jobs, the e-mails and the work requests.

    Start one per install (a second one on any host waits as a standby and takes over
    when the first stops). Web workers never run jobs.
    """
    import logging
    import signal

    from flask import current_app

    from crm.jobs import scheduler

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # APScheduler says "Running job ..." at every wake; the runner says what matters.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

    def stop(signum, frame):  # a plain kill ends it cleanly: the lease is released at once
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"scheduler {scheduler.default_holder()} starting; Ctrl-C stops it")
    try:
        scheduler.serve(current_app._get_current_object())
    except (KeyboardInterrupt, SystemExit):
        click.echo("scheduler stopped")


@crm_group.command("run-job")
@click.argument("name")
@click.option(
    "--at",
    "at",
    default=None,
    help="The time to run it as (ISO 8601; the install's zone unless an offset is given).",
)
@with_appcontext
def run_job_command(name: str, at: str | None) -> None:
    """Run one job now, for the period that `--at` (or now) falls in."""
    from datetime import datetime

    from crm import clock
    from crm.jobs import JOBS, scheduler

    job = JOBS.get(name)
    if job is None:
        click.echo(f"unknown job {name!r}; the jobs are: {', '.join(JOBS)}", err=True)
        raise SystemExit(2)
    now = clock.now()
    if at:
        try:
            parsed = datetime.fromisoformat(at)
        except ValueError:
            click.echo(f"--at: not an ISO 8601 time: {at!r}", err=True)
            raise SystemExit(2) from None
        now = parsed if parsed.tzinfo else parsed.replace(tzinfo=clock.zone())
    try:
        run = scheduler.run_once(job, now)
    except scheduler.LeaseLost:
        click.echo(
            "A scheduler process is running and runs the jobs: use Run now on the admin's "
            "jobs page, or stop it first.",
            err=True,
        )
        raise SystemExit(1) from None
    if run is None:
        click.echo(f"{job.key(now)} finished already; nothing to do")
        return
    click.echo(f"{run.run_key}: {run.outcome} {run.counts}")
    if run.outcome != "ok":
        click.echo(run.error, err=True)
        raise SystemExit(1)


@crm_group.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@with_appcontext
def backup_command(path: str, force: bool) -> None:
    """Copy the SQLite database to PATH while the app keeps running (SQLite's online backup).

    The copy is the last committed state, made without stopping writers; restore it by
    stopping the app and putting the file in the database's place (README "Backups").
    PostgreSQL is backed up with pg_dump instead: the command says how, and stops. Either way
    it says where the uploads are and how to back them up with the database: they are not in
    the copy (a year's photos are a terabyte), neither as a folder nor as a bucket.
    """
    import os
    import sqlite3
    from pathlib import Path

    from flask import current_app
    from sqlalchemy.engine import make_url

    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        libpq = url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)
        click.echo(
            f"The database is {url.get_backend_name()}: back it up with its own tools, as "
            'README.md "Backups" shows:\n'
            f"  pg_dump --format=custom --file {path} '{libpq}'\n"
            "and restore into an empty database with pg_restore --no-owner --dbname <url> <file>.",
            err=True,
        )
        click.echo(uploads_backup_advice(), err=True)
        raise SystemExit(2)
    source = Path(url.database or "")
    if not url.database or url.database == ":memory:" or not source.is_file():
        click.echo(f"No SQLite database file to back up ({url.database or 'in memory'}).", err=True)
        raise SystemExit(2)
    target = Path(path)
    if target.resolve() == source.resolve():
        click.echo("The backup must go to another file than the database itself.", err=True)
        raise SystemExit(2)
    if target.exists() and not force:
        click.echo(f"{target} exists; choose another name or add --force.", err=True)
        raise SystemExit(2)
    # Written beside the target and renamed into place: PATH is never a half-made copy.
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    reader = sqlite3.connect(source)  # reads only; it needs the -wal and -shm files too
    writer = sqlite3.connect(partial)
    try:
        reader.execute("PRAGMA busy_timeout=5000")
        reader.backup(writer, pages=1024)
        writer.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        (checked,) = writer.execute("PRAGMA integrity_check").fetchone()
    finally:
        writer.close()
        reader.close()
    if checked != "ok":
        partial.unlink(missing_ok=True)
        click.echo(f"The copy failed its integrity check: {checked}", err=True)
        raise SystemExit(1)
    os.replace(partial, target)
    click.echo(
        f"backed up {source} to {target} ({target.stat().st_size} bytes) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    click.echo(uploads_backup_advice())


def uploads_backup_advice() -> str:
    """Where the uploads are kept, and how to back them up beside the database."""
    from crm.services import storage
    from crm.services.storage.local import LocalStore

    kept = storage.store()
    if isinstance(kept, LocalStore):
        return (
            f"Uploads are not in this backup: they are files under {kept.root}; copy that folder "
            f"with it, e.g. rsync -a {kept.root}/ <backup folder>/storage/"
        )
    return (
        f"Uploads are not in this backup: they are objects in {kept.description}; back the "
        "bucket up with the store's own means (versioning or replication to another bucket), "
        "or copy it, e.g. aws s3 sync s3://<bucket>/<prefix> <backup folder>/storage "
        "--endpoint-url <CRM_S3_ENDPOINT_URL>"
    )


@crm_group.group("storage")
def storage_group() -> None:
    """The upload store: a folder (CRM_STORAGE_ROOT) or a bucket (CRM_STORAGE_URL=s3://...)."""


@storage_group.command("migrate")
@with_appcontext
def storage_migrate_command() -> None:
    """Copy the files under CRM_STORAGE_ROOT into the bucket of CRM_STORAGE_URL.

    Run again after a stop: files already copied (same size and MD5) are skipped. Each copy is
    checked by its hash; the command ends non-zero when any failed.
    """
    from flask import current_app

    from crm.services import storage
    from crm.services.storage import migrate
    from crm.services.storage.local import LocalStore
    from crm.services.storage.s3 import S3Store

    target = storage.store()
    if not isinstance(target, S3Store):
        click.echo("Set CRM_STORAGE_URL=s3://bucket/prefix (and its endpoint and keys).", err=True)
        raise SystemExit(2)
    source = LocalStore(current_app.config["CRM_STORAGE_ROOT"])
    click.echo(f"copying {source.description} to {target.description}")
    started = time.perf_counter()
    counts = migrate.migrate(source, target, said=lambda line: click.echo(line, err=True))
    click.echo(
        f"copied {counts.copied}, skipped {counts.skipped} (already there), "
        f"failed {counts.failed} in {time.perf_counter() - started:.1f} s"
    )
    if counts.failed:
        raise SystemExit(1)
