"""The `flask crm` command group: init, create-user, seed-demo."""

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
