"""Entering stages, snapshots, and the promotion workflow with its overrides and refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm.errors import Conflict, Invalid, NotAllowed
from crm.extensions import db
from crm.models import AuditEntry, MetricSnapshot, Notification, StageChange, Task, TaskTemplate
from crm.services.growth import promotions, snapshots, stages
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db_session):
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, stage="elementary")
    stages.create_stage_tasks(factory, "elementary", NOW)
    return {
        "rep": rep,
        "manager": builders.user("manager", leads=[team]),
        "factory": factory,
        "factory_user": builders.user("factory", factory=factory),
    }


def tasks_of(factory, stage):
    return db.session.scalars(
        select(Task).where(Task.factory_id == factory.id, Task.stage == stage)
    ).all()


def finish_stage(factory):
    for task in tasks_of(factory, factory.stage):
        task.status, task.waive_reason = "waived", "Done before the CRM"
    db.session.flush()


def test_entering_a_stage_creates_its_tasks_once(world):
    factory = world["factory"]
    made = stages.enter_stage(factory, "junior", NOW)
    assert factory.stage == "junior" and factory.stage_entered_at == NOW
    again = stages.enter_stage(factory, "junior", NOW + timedelta(days=3))
    assert made == 5 and again == 0
    tasks = tasks_of(factory, "junior")
    assert len(tasks) == 5
    shoot = next(task for task in tasks if task.kind == "video_shoot")
    assert shoot.due_on == date(2026, 11, 25) + timedelta(days=45)
    assert shoot.owner_id == world["rep"].id


def test_editing_a_template_leaves_existing_tasks_alone(world):
    factory = world["factory"]
    stages.enter_stage(factory, "junior", NOW)
    template = db.session.scalar(
        select(TaskTemplate).where(TaskTemplate.title_en == "72-hour delivery ≥ 90 %")
    )
    template.title_en, template.target_value = "72-hour delivery ≥ 95 %", 95
    db.session.flush()
    task = next(t for t in tasks_of(factory, "junior") if t.template_id == template.id)
    assert task.title_en == "72-hour delivery ≥ 90 %" and task.target_value == 90


def test_a_rep_requests_and_a_manager_approves_a_promotion(world):
    factory, rep, manager = world["factory"], world["rep"], world["manager"]
    finish_stage(factory)
    change = promotions.request_change(rep, factory, "active", "junior", "All done", NOW)
    assert change.decision == "pending" and factory.stage == "elementary"
    manager_inbox = db.session.scalars(
        select(Notification).where(Notification.user_id == manager.id)
    ).all()
    assert len(manager_inbox) == 1
    promotions.decide(manager, change, True, "", NOW)
    assert factory.stage == "junior" and factory.stage_entered_at == NOW
    assert change.decision == "approved" and change.decided_by_id == manager.id
    assert len(tasks_of(factory, "junior")) == 5
    told = set(
        db.session.scalars(select(Notification.user_id).where(Notification.kind.like("%approved")))
    )
    assert told == {rep.id, world["factory_user"].id}


def test_a_refusal_needs_a_reason_and_moves_nothing(world):
    factory = world["factory"]
    finish_stage(factory)
    change = promotions.request_change(world["rep"], factory, "active", "junior", "", NOW)
    with pytest.raises(Invalid) as refused:
        promotions.decide(world["manager"], change, False, "  ", NOW)
    assert "note" in refused.value.fields
    promotions.decide(world["manager"], change, False, "Shop photos are not real", NOW)
    assert change.decision == "refused" and factory.stage == "elementary"


def test_a_decided_request_cannot_be_decided_again(world):
    factory = world["factory"]
    finish_stage(factory)
    change = promotions.request_change(world["rep"], factory, "active", "junior", "", NOW)
    promotions.decide(world["manager"], change, True, "", NOW)
    with pytest.raises(Conflict):
        promotions.decide(world["manager"], change, False, "Changed my mind", NOW)
    assert factory.stage == "junior"


def test_a_rep_cannot_approve(world):
    factory = world["factory"]
    finish_stage(factory)
    change = promotions.request_change(world["rep"], factory, "active", "junior", "", NOW)
    with pytest.raises(NotAllowed):
        promotions.decide(world["rep"], change, True, "", NOW)


def test_a_rep_cannot_request_promotion_of_an_ineligible_factory(world):
    with pytest.raises(Invalid) as refused:
        promotions.request_change(world["rep"], world["factory"], "active", "junior", "", NOW)
    assert "not eligible" in refused.value.fields["to_stage"]
    assert db.session.scalar(select(func.count()).select_from(StageChange)) == 0


def test_a_second_pending_request_is_a_conflict(world):
    factory = world["factory"]
    finish_stage(factory)
    promotions.request_change(world["rep"], factory, "active", "junior", "", NOW)
    with pytest.raises(Conflict):
        promotions.request_change(world["rep"], factory, "active", "junior", "", NOW)


def test_an_ineligible_promotion_is_an_override_with_a_reason(world):
    factory, manager = world["factory"], world["manager"]
    with pytest.raises(Invalid) as refused:
        promotions.change_directly(manager, factory, "active", "junior", "", False, NOW)
    assert "override" in refused.value.fields
    with pytest.raises(Invalid) as refused:
        promotions.change_directly(manager, factory, "active", "junior", "", True, NOW)
    assert "reason" in refused.value.fields
    change = promotions.change_directly(
        manager, factory, "active", "junior", "Key account", True, NOW
    )
    assert change.is_override and change.decision == "direct" and factory.stage == "junior"
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"override", "move"} <= actions


def test_a_managers_direct_promotion_of_an_eligible_factory_is_not_an_override(world):
    factory = world["factory"]
    finish_stage(factory)
    change = promotions.change_directly(
        world["manager"], factory, "active", "junior", "", False, NOW
    )
    assert not change.is_override


def test_moving_down_or_two_stages_up_is_always_an_override(world):
    factory, manager = world["factory"], world["manager"]
    finish_stage(factory)
    with pytest.raises(Invalid):
        promotions.change_directly(manager, factory, "active", "senior", "", False, NOW)
    promotions.change_directly(manager, factory, "active", "senior", "Acquired a brand", True, NOW)
    change = promotions.change_directly(
        manager, factory, "active", "elementary", "Shop closed", True, NOW
    )
    assert change.is_override and factory.stage == "elementary"


def test_a_churned_factory_cannot_be_promoted(world):
    factory, manager = world["factory"], world["manager"]
    promotions.change_directly(manager, factory, "churned", None, "", False, NOW)
    assert factory.status == "churned" and factory.stage == "elementary"
    with pytest.raises(Invalid) as refused:
        promotions.change_directly(manager, factory, "active", "junior", "x", True, NOW)
    assert "Reactivate" in refused.value.fields["to_stage"]


def test_paused_days_do_not_count_as_time_in_stage(world):
    factory, manager = world["factory"], world["manager"]
    promotions.change_directly(manager, factory, "paused", None, "Spring festival", False, NOW)
    promotions.change_directly(
        manager, factory, "active", None, "", False, NOW + timedelta(days=20)
    )
    assert factory.status == "active" and factory.paused_days == 20


def test_signing_a_prospect_needs_its_credit_code(world):
    prospect = builders.factory(world["factory"].belt, owner=world["rep"], status="prospect")
    prospect.credit_code = None
    with pytest.raises(Invalid) as refused:
        promotions.change_directly(
            world["manager"], prospect, "active", "elementary", "", False, NOW
        )
    assert "credit code" in refused.value.fields["to_stage"]
    prospect.credit_code = builders.credit_code()
    promotions.change_directly(world["manager"], prospect, "active", "elementary", "", False, NOW)
    assert prospect.stage == "elementary" and len(tasks_of(prospect, "elementary")) == 5


def test_signing_needs_a_code_that_stands_and_an_admins_record_makes_one_stand(world):
    """A code stored before the rules of GB 32100 were checked in full is corrected first;
    one that fails only its check digit stands once an admin recorded why."""
    prospect = builders.factory(world["factory"].belt, owner=world["rep"], status="prospect")
    good = builders.credit_code()
    prospect.credit_code = "94" + good[2:]  # no category 4 under market regulation
    with pytest.raises(Invalid) as refused:
        promotions.change_directly(
            world["manager"], prospect, "active", "elementary", "", False, NOW
        )
    assert "needs a valid credit code" in refused.value.fields["to_stage"]
    assert "kind of organisation" in refused.value.fields["to_stage"]
    prospect.credit_code = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(Invalid):
        promotions.change_directly(
            world["manager"], prospect, "active", "elementary", "", False, NOW
        )
    prospect.credit_code_override_reason = "Issued in Xiamen's pilot"
    promotions.change_directly(world["manager"], prospect, "active", "elementary", "", False, NOW)
    assert prospect.stage == "elementary"


@pytest.mark.parametrize(
    ("metric", "value", "field", "words"),
    [
        ("response_3min_rate", "abc", "value", "Enter a number"),
        ("response_3min_rate", "-5", "value", "from 0 to 100"),
        ("response_3min_rate", "120", "value", "from 0 to 100"),
        ("gmv_month", "-1", "value", "0 or more"),
        ("no_such_metric", "5", "metric", "Choose a metric"),
        ("response_3min_rate", "1e40", "value", "too large"),
    ],
)
def test_bad_snapshots_say_why_and_store_nothing(world, metric, value, field, words):
    with pytest.raises(Invalid) as refused:
        snapshots.record_snapshot(
            world["rep"], world["factory"], metric, date(2026, 10, 1), value, NOW
        )
    assert words in refused.value.fields[field]
    assert db.session.scalar(select(func.count()).select_from(MetricSnapshot)) == 0


def test_a_snapshot_for_a_future_month_is_refused(world):
    with pytest.raises(Invalid) as refused:
        snapshots.record_snapshot(
            world["rep"], world["factory"], "response_3min_rate", date(2026, 12, 1), "80", NOW
        )
    assert "month" in refused.value.fields


def test_a_second_snapshot_for_a_month_replaces_the_first_and_is_audited(world):
    first = snapshots.record_snapshot(
        world["rep"], world["factory"], "response_3min_rate", date(2026, 10, 17), "72,5 %", NOW
    )
    second = snapshots.record_snapshot(
        world["rep"], world["factory"], "response_3min_rate", date(2026, 10, 1), "81", NOW
    )
    assert first.id == second.id and second.month == date(2026, 10, 1)
    assert str(second.value) in ("81", "81.0000")
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.record_type == "metric_snapshot")
    ).all()
    assert actions == ["create", "replace"]


def test_a_factory_user_cannot_enter_figures(world):
    with pytest.raises(NotAllowed):
        snapshots.record_snapshot(
            world["factory_user"],
            world["factory"],
            "response_3min_rate",
            date(2026, 10, 1),
            "80",
            NOW,
        )


def test_a_direct_move_waits_for_the_pending_request_to_be_decided(world):
    factory = world["factory"]
    finish_stage(factory)
    promotions.request_change(world["rep"], factory, "active", "junior", "", NOW)
    with pytest.raises(Conflict):
        promotions.change_directly(world["manager"], factory, "active", "junior", "", False, NOW)
    assert factory.stage == "elementary"


def test_a_request_that_stopped_qualifying_is_approved_only_as_an_override(world):
    factory, manager = world["factory"], world["manager"]
    finish_stage(factory)
    change = promotions.request_change(world["rep"], factory, "active", "junior", "", NOW)
    tasks_of(factory, "elementary")[0].status = "open"  # no longer eligible
    db.session.flush()
    with pytest.raises(Invalid) as refused:
        promotions.decide(manager, change, True, "", NOW)
    assert set(refused.value.fields) == {"override"}
    with pytest.raises(Invalid) as no_reason:
        promotions.decide(manager, change, True, "", NOW, override=True)
    assert set(no_reason.value.fields) == {"note"}
    promotions.decide(manager, change, True, "Seen on site", NOW, override=True)
    assert factory.stage == "junior"
    assert change.decision == "approved" and change.is_override
    assert change.reason == "Seen on site"  # an override's record states its reason
    logged = db.session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.record_type == "stage_change", AuditEntry.record_id == change.id
        )
    ).all()
    assert "override" in logged


def test_the_factory_page_finds_the_pending_request_however_many_changes_came_after_it(world):
    """The page reads the pending request from its newest stage changes (it is the newest
    request); with more changes after it than the page reads, it asks for it apart."""
    from crm.services.factories import factory_page

    factory, rep, manager = world["factory"], world["rep"], world["manager"]
    pending = builders.stage_change(factory, rep, manager, NOW - timedelta(days=30), "pending")
    pending.decided_by_id, pending.decided_at = None, None
    db.session.flush()
    page = factory_page.build(manager, factory, NOW, "en")
    assert page.pending is not None and page.pending.id == pending.id
    for day in range(factory_page.TIMELINE_LIMIT):
        builders.stage_change(factory, manager, manager, NOW - timedelta(days=20 - day / 2))
    db.session.flush()
    page = factory_page.build(manager, factory, NOW, "en")
    assert page.pending is not None and page.pending.id == pending.id
    assert all(entry.change is None or entry.change.id != pending.id for entry in page.timeline)
