"""Property-based: schemathesis sends generated requests to every operation of the OpenAPI
document, with a bearer token of each role, in-process; no answer is a 500 and every
answer matches the document (status, content type, headers, body schema)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from flask.globals import _cv_app
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crm.models import StageChange
from crm.services.accounts import api_tokens
from tests import builders

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 10


@pytest.fixture
def records(db_session):
    """A small world with one record of each kind, so that generated requests can find some."""
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
    task = builders.task(factory)
    follow_up = builders.follow_up(factory, rep, datetime.now(UTC) + timedelta(days=2))
    visit = builders.visit(factory, rep)
    change = StageChange(
        factory_id=factory.id,
        from_status="active",
        from_stage="junior",
        to_status="active",
        to_stage="senior",
        requested_by_id=rep.id,
    )
    db_session.add(change)
    db_session.commit()
    ids = {
        "factory_id": factory.id,
        "task_id": task.id,
        "follow_up_id": follow_up.id,
        "visit_id": visit.id,
        "change_id": change.id,
    }
    return users, ids


@pytest.mark.parametrize("role", ["rep", "manager", "admin", "factory"])
def test_every_operation_answers_as_documented_for_each_role(app, db_session, records, role):
    users, ids = records
    secret = api_tokens.create(users[role], f"schemathesis {role}", None).secret
    db_session.commit()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {secret}"}
    chance = random.Random(role)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exchange(case) -> None:
            # Half of the generated ids are swapped for real ones, so that answers other
            # than "not found" are checked against the document too.
            for name in list(case.path_parameters or {}):
                if name in ids and chance.random() < 0.5:
                    case.path_parameters[name] = ids[name]
            context = _cv_app.set(None)  # each request in its own app context, as in production
            try:
                case.call_and_validate(headers=headers, checks=CHECKS)
            finally:
                _cv_app.reset(context)

        exchange()
