"""Property-based: schemathesis runs every phase the document supports (examples, coverage,
fuzzing, stateful) with every check, positive and negative data, against the app served on
127.0.0.1, with a bearer token of each role (tests/api_check.py, which `make api-check` runs
with 200 examples per operation). No failure of any check."""

from __future__ import annotations

import logging

import pytest

from crm.services.accounts import api_tokens
from tests import api_check

# Examples per operation: enough for every phase to run, bounded for CI's time.
MAX_EXAMPLES = 4


@pytest.mark.parametrize("role", api_check.ROLES)
def test_every_phase_and_check_pass_for_each_role(app, live_server, live_db, monkeypatch, role):
    monkeypatch.setitem(app.config, "CRM_API_RATE_LIMIT", "1000000 per minute")
    monkeypatch.setattr(logging.getLogger("werkzeug"), "level", logging.WARNING)
    users = api_check.world(live_db)
    secret = api_tokens.create(users[role], f"schemathesis {role}", None).secret
    live_db.commit()
    outcome = api_check.run(live_server, role, secret, MAX_EXAMPLES)
    assert outcome.cases > 100
    assert all(outcome.phases.get(phase) in ("success", "failure") for phase in api_check.PHASES), (
        outcome.phases
    )
    assert not outcome.failures and not outcome.errors, "\n".join(outcome.lines())
