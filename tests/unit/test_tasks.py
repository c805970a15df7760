"""Moving tasks forward: who may tick, waive, hand in and send back, and what eligibility says."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from crm.errors import Invalid, NotAllowed
from crm.extensions import db
from crm.models import AuditEntry
from crm.services.growth import tasks
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db_session):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep, stage="elementary")
    return {
        "rep": rep,
        "manager": builders.user("manager", leads=[team]),
        "factory": factory,
        "factory_user": builders.user("factory", factory=factory),
        "task": builders.task(factory, "Shop opened"),
    }


def test_a_rep_ticks_a_task_and_the_factory_becomes_eligible(world):
    task = tasks.complete(world["rep"], world["task"], NOW)
    assert task.status == "done" and task.verified_by_id == world["rep"].id
    assert world["factory"].eligible_since == NOW
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.record_type == "task"))
    assert entry.changes["status"] == ["open", "done"]


def test_only_a_manager_waives_a_required_task_and_with_a_reason(world):
    with pytest.raises(NotAllowed):
        tasks.waive(world["rep"], world["task"], "Closed for the season", NOW)
    with pytest.raises(Invalid) as refused:
        tasks.waive(world["manager"], world["task"], "  ", NOW)
    assert "waive_reason" in refused.value.fields
    assert world["task"].status == "open"
    tasks.waive(world["manager"], world["task"], "Already on another platform", NOW)
    assert world["task"].status == "waived"


def test_a_rep_may_waive_an_optional_task(world):
    optional = builders.task(world["factory"], "Paid promotion tried", required=False)
    assert tasks.waive(world["rep"], optional, "No budget this year", NOW).status == "waived"


def test_a_measured_task_cannot_be_ticked(world):
    measured = builders.task(
        world["factory"],
        "Answers within 3 minutes",
        kind="measured",
        metric_code="response_3min_rate",
        comparison="at_least",
        target_value=60,
    )
    with pytest.raises(Invalid):
        tasks.complete(world["rep"], measured, NOW)


def test_the_factory_hands_in_evidence_and_staff_send_it_back(world):
    task = tasks.hand_in(
        world["factory_user"], world["task"], "https://shop.example/123", None, "Shop is live", NOW
    )
    assert task.status == "submitted" and task.evidence_link == "https://shop.example/123"
    with pytest.raises(Invalid):
        tasks.send_back(world["rep"], task, "", NOW)
    tasks.send_back(world["rep"], task, "The link shows another shop", NOW)
    assert task.status == "open" and task.send_back_reason == "The link shows another shop"


@pytest.mark.parametrize(
    ("link", "number", "note", "field"),
    [
        ("javascript:alert(1)", None, None, "evidence_link"),
        ("https://" + "x" * 600, None, None, "evidence_link"),
        (None, "abc", None, "evidence_number"),
        (None, None, None, "evidence_link"),
    ],
)
def test_bad_evidence_is_refused_by_the_field(world, link, number, note, field):
    with pytest.raises(Invalid) as refused:
        tasks.hand_in(world["factory_user"], world["task"], link, number, note, NOW)
    assert field in refused.value.fields
    assert world["task"].status == "open"


def test_staff_cannot_hand_in_and_the_factory_cannot_tick(world):
    with pytest.raises(NotAllowed):
        tasks.hand_in(world["rep"], world["task"], "https://x.example", None, None, NOW)
    with pytest.raises(NotAllowed):
        tasks.complete(world["factory_user"], world["task"], NOW)


def test_a_delivered_video_completes_the_shoot(world):
    shoot = builders.task(world["factory"], "First short video", kind="video_shoot")
    tasks.record_video(world["rep"], shoot, date(2026, 12, 2), None, NOW)
    assert shoot.status == "open" and shoot.shoot_on == date(2026, 12, 2)
    tasks.record_video(world["rep"], shoot, None, "https://video.example/v1", NOW)
    assert shoot.status == "done" and shoot.shoot_on == date(2026, 12, 2)


def test_an_ad_hoc_task_is_optional_and_belongs_to_the_current_stage(world):
    task = tasks.add_ad_hoc(world["rep"], world["factory"], "Print new catalogue", None, NOW)
    assert not task.required and task.stage == "elementary" and task.template_id is None
    with pytest.raises(Invalid):
        tasks.add_ad_hoc(world["rep"], world["factory"], "x" * 300, None, NOW)
