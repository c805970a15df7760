"""schemathesis against the running app, as an integrator runs it: every phase the document
supports (examples, coverage, fuzzing, stateful), every check, positive and negative data,
with one bearer token per role. The project's test runs it with a few examples per
operation; `make api-check` (python -m tests.api_check) runs 200, outside CI.

Operations whose document lists rules beyond JSON Schema (`x-checked-beyond-schema`: a due
date not in the past, the check-in window, stage moves) may refuse schema-valid data with
422 naming the field; for them alone, 422 is an accepted answer to positive data.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

ROLES = ("rep", "manager", "admin", "factory")
PHASES = ("examples", "coverage", "fuzzing", "stateful")


@dataclass
class Outcome:
    """What one role's run found: failures by (phase, operation, check, title), with a sample."""

    role: str
    cases: int = 0
    failures: collections.Counter = field(default_factory=collections.Counter)
    samples: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    phases: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        lines = [f"{self.role}: {self.cases} cases, {sum(self.failures.values())} failures"]
        lines += [f"  phase {name}: {status}" for name, status in self.phases.items()]
        for key, count in sorted(self.failures.items()):
            lines.append(f"  {count} x {' | '.join(key)}")
            lines.append(f"      {self.samples[key]}")
        lines += [f"  error: {error}" for error in self.errors]
        return lines


def config(base_url: str, secret: str, document: dict, max_examples: int) -> SchemathesisConfig:
    beyond = [
        {
            "include-operation-id": operation["operationId"],
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
                }
            },
        }
        for item in document["paths"].values()
        for operation in item.values()
        if operation.get("x-checked-beyond-schema")
    ]
    return SchemathesisConfig.from_dict(
        {
            "base-url": base_url,
            "headers": {"Authorization": f"Bearer {secret}"},
            "workers": 1,
            "seed": 20,
            "generation": {"max-examples": max_examples, "mode": "all", "database": "none"},
            "checks": {"enabled": True},
            "phases": {name: {"enabled": True} for name in PHASES},
            "operations": beyond,
        }
    )


def run(base_url: str, role: str, secret: str, max_examples: int) -> Outcome:
    with urllib.request.urlopen(f"{base_url}/api/v1/openapi.json", timeout=30) as answer:
        document = json.load(answer)
    schema = schemathesis.openapi.from_url(
        f"{base_url}/api/v1/openapi.json", config=config(base_url, secret, document, max_examples)
    )
    outcome = Outcome(role)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _record(outcome, event)
        elif isinstance(event, events.NonFatalError):
            outcome.errors.append(f"{event.label}: {event.value!r}"[:500])
        elif isinstance(event, events.FatalError):
            outcome.errors.append(f"fatal: {event.exception!r}"[:500])
        elif isinstance(event, events.PhaseFinished):
            outcome.phases[event.phase.name.value] = event.status.value
    return outcome


def _record(outcome: Outcome, event: events.ScenarioFinished) -> None:
    recorder = event.recorder
    outcome.cases += len(recorder.cases)
    for case_id, nodes in recorder.checks.items():
        for node in nodes:
            if node.failure_info is None:
                continue
            failure = node.failure_info.failure
            key = (str(event.phase.value), recorder.label, node.name, failure.title)
            outcome.failures[key] += 1
            if key not in outcome.samples:
                interaction = recorder.interactions.get(case_id)
                response = interaction.response if interaction else None
                request = interaction.request if interaction else None
                outcome.samples[key] = (
                    f"{request.method if request else ''} {request.uri if request else ''} "
                    f"{(request.body or b'')[:300]!r} -> "
                    f"{response.status_code if response else ''} "
                    f"{(response.content or b'')[:300] if response else b''!r}"
                )


# --- the world the runs test against -------------------------------------------------------


def world(session) -> dict[str, object]:
    """A small world with a record of each kind, and its users by role; committed."""
    from datetime import UTC, datetime, timedelta

    from crm.models import StageChange
    from tests import builders

    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, stage="junior")
    users = {
        "rep": rep,
        "manager": builders.user("manager", leads=[team]),
        "admin": builders.user("admin"),
        "factory": builders.user("factory", factory=factory),
    }
    builders.task(factory)
    builders.follow_up(factory, rep, datetime.now(UTC) + timedelta(days=2))
    builders.visit(factory, rep)
    session.add(
        StageChange(
            factory_id=factory.id,
            from_status="active",
            from_stage="junior",
            to_status="active",
            to_stage="senior",
            requested_by_id=rep.id,
        )
    )
    session.commit()
    return users


def secrets(users: dict) -> dict[str, str]:
    from crm.extensions import db
    from crm.services.accounts import api_tokens

    made = {
        role: api_tokens.create(user, f"api-check {role}", None).secret
        for role, user in users.items()
    }
    db.session.commit()
    return made


@contextmanager
def served_app(database_url: str | None) -> Iterator[str]:
    """The app on a database of its own (CRM_TEST_DATABASE_URL's server, or SQLite), served
    on 127.0.0.1; yields its base URL with the world's tokens made."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from crm import create_app
    from crm.extensions import db
    from crm.services.growth import catalogue
    from tests.live import serve

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)

    if database_url and database_url.startswith("postgresql"):
        url = make_url(database_url)
        url = url.set(database=f"{url.database}_apicheck")
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
        database_url = url.render_as_string(hide_password=False)
    else:
        database_url = f"sqlite:///{tempfile.mkdtemp(prefix='crm-api-check-')}/crm.sqlite3"
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        CRM_STORAGE_ROOT=tempfile.mkdtemp(prefix="crm-storage-"),
        CRM_API_RATE_LIMIT="1000000 per minute",
    )
    with app.app_context():
        upgrade()
        catalogue.install_defaults()
        db.session.commit()
        app.config["API_CHECK_SECRETS"] = secrets(world(db.session))
        with serve(app) as base_url:
            yield base_url, app.config["API_CHECK_SECRETS"]
        db.session.remove()
        db.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="examples per operation")
    parser.add_argument("--roles", default=",".join(ROLES))
    arguments = parser.parse_args()
    database = os.environ.get("CRM_TEST_DATABASE_URL")
    print(
        f"schemathesis {schemathesis.__version__}: every phase ({', '.join(PHASES)}), every "
        f"check, positive and negative, {arguments.examples} examples per operation, on "
        f"{'PostgreSQL' if database and database.startswith('postgresql') else 'SQLite'}"
    )
    total_cases = total_failures = 0
    with served_app(database) as (base_url, tokens):
        for role in arguments.roles.split(","):
            outcome = run(base_url, role, tokens[role], arguments.examples)
            print("\n".join(outcome.lines()), flush=True)
            total_cases += outcome.cases
            total_failures += sum(outcome.failures.values()) + len(outcome.errors)
    print(f"api-check: {total_cases} cases, {total_failures} failures")
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(main())
