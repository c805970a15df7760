"""The `flask crm` command group: init, create-user, seed-demo."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from crm.errors import Invalid
from crm.extensions import db
from crm.services import catalogue, users

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
