"""Exactly once over the API: the same Idempotency-Key sent at once by several requests of
one token, to a real server on PostgreSQL, makes one visit; every answer names it."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from crm.models import Visit
from crm.services.accounts import api_tokens
from tests import builders

SENDERS = 4


@pytest.mark.postgres_only
def test_the_same_key_sent_concurrently_makes_one_visit(live_server, live_db):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep)
    secret = api_tokens.create(rep, "concurrency", None).secret
    live_db.commit()
    body = json.dumps(
        {
            "factory_id": factory.id,
            "purpose": "follow_up",
            "summary": "Sent from four threads at once",
            "checked_in_at": datetime.now(UTC).isoformat(),
            "next": "none",
        }
    ).encode()
    barrier = threading.Barrier(SENDERS)
    answers: list[tuple[int, dict]] = []
    errors: list[BaseException] = []

    def send() -> None:
        request = urllib.request.Request(
            f"{live_server}/api/v1/visits",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {secret}",
                "Content-Type": "application/json",
                "Idempotency-Key": "concurrent-key-0001",
            },
        )
        try:
            barrier.wait(timeout=10)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    answers.append((response.status, json.load(response)))
            except urllib.error.HTTPError as error:
                answers.append((error.code, json.load(error)))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=send) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    statuses = sorted(status for status, _body in answers)
    assert statuses == [200] * (SENDERS - 1) + [201], answers
    assert len({body["visit"]["id"] for _status, body in answers}) == 1
    live_db.rollback()
    count = live_db.scalar(
        select(func.count()).select_from(Visit).where(Visit.client_key == "concurrent-key-0001")
    )
    assert count == 1
