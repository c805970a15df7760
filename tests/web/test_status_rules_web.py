"""Status rules that hold whichever way a factory moves: through the API's request and decision
and through the board's page without script, as through the board's dialog
(tests/unit/test_status_rules.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.models import AuditEntry, FollowUp
from tests import builders
from tests.web.helpers import csrf_token, sign_in
from tests.web.test_api_records import call, world  # noqa: F401 - the fixture

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday, 10:00 in Shanghai


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def open_follow_ups(db_session, factory):
    db_session.expire_all()
    return db_session.scalars(
        select(FollowUp).where(FollowUp.factory_id == factory.id, FollowUp.status == "open")
    ).all()


def test_a_churn_decided_through_the_api_cancels_the_follow_ups(client, world, db_session):  # noqa: F811
    factory = world["factory"]
    follow_up = builders.follow_up(factory, world["rep"], NOW + timedelta(days=1))
    db_session.commit()
    asked = call(
        client,
        world,
        "POST",
        f"/api/v1/factories/{factory.id}/stage-changes",
        json={"to_status": "churned", "reason": "Moved to a rival"},
    )
    assert asked.status_code == 201 and len(open_follow_ups(db_session, factory)) == 1
    path = f"/api/v1/stage-changes/{asked.get_json()['id']}/decision"
    assert (
        call(client, world, "POST", path, who="manager", json={"approve": True}).status_code == 200
    )
    assert open_follow_ups(db_session, factory) == []
    entry = db_session.scalar(
        select(AuditEntry).where(
            AuditEntry.record_type == "follow_up",
            AuditEntry.record_id == follow_up.id,
            AuditEntry.action == "cancel",
        )
    )
    assert entry.changes["cancel_reason"] == [None, "churned: Moved to a rival"]


def test_a_reactivation_on_the_board_without_script_plans_a_follow_up(client, world, db_session):  # noqa: F811
    factory = world["factory"]
    factory.status = "paused"
    db_session.commit()
    sign_in(client, world["manager"].email)
    response = client.post(
        f"/pipeline/board/{factory.id}/move",
        data={"csrf_token": csrf_token(client, "/account/"), "to": "junior"},
    )
    assert response.status_code == 303
    (planned,) = open_follow_ups(db_session, factory)
    assert planned.origin == "cadence" and planned.assignee_id == world["rep"].id
