"""The `flask crm` command group: init, create-user, seed-demo, scheduler, run-job."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from crm.errors import Invalid
from crm.extensions import db
from crm.services import catalogue, demo, users

CLI_ACTOR = "cli"


@click.group("crm")
def crm_group() -> None:
    """Factory Growth CRM administration."""


@crm_group.command("init")
@with_appcontext
def init_command() -> None:
    """Install the default metrics, stages and checklists (safe to run again)."""
    added = catalogue.install_defaults()
    db.session.commit()
    click.echo(
        f"defaults installed: {added['metrics']} metrics, {added['stages']} stages, "
        f"{added['templates']} task templates added"
    )


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

    from crm.services import scheduler

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
    from crm.jobs import JOBS
    from crm.services import scheduler

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
