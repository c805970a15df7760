"""One factory, one row (issue 22, point 4): the kept factory takes every record of the other,
the kept one's winning where both have one; the other's row goes and its id still finds the kept
one; merging is refused for the same factory twice, a factory outside a manager's belts, a rep.
A table with a key to factories that the merge does not name fails here first."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.errors import Invalid, NotAllowed
from crm.extensions import db
from crm.models import (
    AuditEntry,
    Contact,
    Factory,
    FactoryMerge,
    FollowUp,
    MetricSnapshot,
    Notification,
    RoutePlan,
    StageChange,
    Task,
    TaskTemplate,
    User,
    Visit,
    visit_tasks,
)
from crm.services.trust import merge
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def test_every_table_with_a_factory_key_is_handled_by_the_merge():
    keyed = {
        table.name
        for table in db.metadata.sorted_tables
        for column in table.columns
        for key in column.foreign_keys
        if key.column.table.name == "factories"
    }
    assert keyed == set(merge.MOVED), "a new table keyed to factories: teach the merge to move it"


@pytest.fixture
def pair(db_session):
    team, other_team = builders.team(), builders.team()
    belt, far_belt = builders.belt(team), builders.belt(other_team)
    ann, bo = builders.user("rep", team_=team), builders.user("rep", team_=team)
    kept = builders.factory(belt, owner=ann, name="永康市恒达五金制品有限公司", stage="junior")
    other = builders.factory(belt, owner=bo, name="恒达五金", stage="elementary")
    far = builders.factory(far_belt, name="Far away")
    template = db.session.scalars(select(TaskTemplate).order_by(TaskTemplate.id)).first()
    twin_kept = builders.task(kept, "Shop opened", template_id=template.id)
    twin_other = builders.task(
        other, "Shop opened", template_id=template.id, evidence_link="https://shop.example/1"
    )
    own = builders.task(other, "Own item")
    visit = builders.visit(other, bo, checked_in_at=NOW - timedelta(days=2))
    db.session.flush()
    db.session.execute(visit_tasks.insert().values(visit_id=visit.id, task_id=twin_other.id))
    builders.contact(other, "李经理")
    builders.follow_up(other, bo, NOW + timedelta(days=3), reason="Bring samples")
    builders.closure(other, date(2026, 12, 1), date(2026, 12, 3))
    for factory, month, value in ((kept, date(2026, 10, 1), 80), (other, date(2026, 10, 1), 50)):
        db.session.add(
            MetricSnapshot(
                factory=factory, metric_code="response_3min_rate", month=month, value=value
            )
        )
    db.session.add(
        MetricSnapshot(
            factory=other, metric_code="response_3min_rate", month=date(2026, 9, 1), value=70
        )
    )
    manager = builders.user("manager", leads=[team])
    builders.stage_change(other, bo, manager, NOW - timedelta(days=30))
    pending = StageChange(
        factory_id=other.id,
        from_status="active",
        from_stage="elementary",
        to_status="active",
        to_stage="junior",
        requested_by_id=bo.id,
        requested_at=NOW - timedelta(days=1),
    )
    db.session.add(pending)
    owner_user = builders.user("factory", factory=other)
    db.session.add(
        RoutePlan(user_id=bo.id, day=date(2026, 11, 25), factory_ids=[other.id, kept.id])
    )
    db.session.flush()
    return {
        "kept": kept,
        "other": other,
        "far": far,
        "ann": ann,
        "bo": bo,
        "manager": manager,
        "admin": builders.user("admin"),
        "twin_kept": twin_kept,
        "own": own,
        "visit": visit,
        "pending": pending,
        "owner_user": owner_user,
    }


def count(model, **where) -> int:
    statement = select(func.count()).select_from(model)
    for name, value in where.items():
        statement = statement.where(getattr(model, name) == value)
    return db.session.scalar(statement)


def test_the_kept_factory_takes_every_record_and_the_other_s_id_finds_it(pair):
    kept, other = pair["kept"], pair["other"]
    other_id = other.id
    result = merge.merge(pair["manager"], kept, other, NOW)
    db.session.expire_all()
    assert db.session.get(Factory, other_id) is None
    assert merge.resolve(other_id) == kept.id and merge.resolve(kept.id) is None
    for model in (Contact, FollowUp, Visit, StageChange):
        assert count(model, factory_id=other_id) == 0
    assert count(Contact, factory_id=kept.id) == 1
    assert count(FollowUp, factory_id=kept.id) == 1
    assert count(Visit, factory_id=kept.id) == 1
    assert db.session.get(User, pair["owner_user"].id).factory_id == kept.id
    # The kept one's task of the template wins and takes the other's evidence and ticks; the
    # other's own item moves.
    tasks = {
        task.title_en: task
        for task in db.session.scalars(select(Task).where(Task.factory_id == kept.id))
    }
    assert set(tasks) == {"Shop opened", "Own item"}
    assert tasks["Shop opened"].id == pair["twin_kept"].id
    assert tasks["Shop opened"].evidence_link == "https://shop.example/1"
    ticked = db.session.scalars(
        select(visit_tasks.c.task_id).where(visit_tasks.c.visit_id == pair["visit"].id)
    ).all()
    assert ticked == [pair["twin_kept"].id]
    # October's figure is the kept one's; September's, only the other's, moved; the other's
    # October figure is written in the merge's audit entry.
    figures = dict(
        db.session.execute(
            select(MetricSnapshot.month, MetricSnapshot.value).where(
                MetricSnapshot.factory_id == kept.id
            )
        ).all()
    )
    assert figures == {date(2026, 10, 1): Decimal("80.0000"), date(2026, 9, 1): Decimal("70.0000")}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "merge"))
    assert entry.factory_id == kept.id and "response_3min_rate 2026-10" in str(entry.changes)
    # The history moves; the pending request, asked from the other's stage, is refused.
    pending = db.session.get(StageChange, pair["pending"].id)
    assert pending.factory_id == kept.id and pending.decision == "refused"
    assert "Merged into" in pending.decision_note
    plan = db.session.scalar(select(RoutePlan))
    assert plan.factory_ids == [kept.id]
    # Both owners are told.
    told = set(
        db.session.scalars(
            select(Notification.user_id).where(Notification.kind == "factory_merged")
        )
    )
    assert told == {pair["ann"].id, pair["bo"].id}
    assert result.moved["visits"] == 1 and result.moved["tasks"] == 1


def test_a_merge_that_cannot_be_is_refused_and_changes_nothing(pair):
    kept, other, far = pair["kept"], pair["other"], pair["far"]
    with pytest.raises(Invalid) as itself:
        merge.merge(pair["admin"], kept, kept, NOW)
    assert "itself" in itself.value.fields["other_id"]
    with pytest.raises(Invalid):
        merge.check(pair["admin"], kept, None)  # an id that no longer is (merged, or none)
    with pytest.raises(NotAllowed):
        merge.merge(pair["manager"], kept, far, NOW)  # a belt the manager does not lead
    with pytest.raises(NotAllowed):
        merge.merge(pair["ann"], kept, other, NOW)  # a rep
    db.session.expire_all()
    assert db.session.get(Factory, other.id) is not None and db.session.get(Factory, far.id)
    assert count(FactoryMerge) == 0
    assert count(Visit, factory_id=other.id) == 1


def test_an_earlier_merge_follows_to_the_factory_kept_last(pair):
    kept, other, admin = pair["kept"], pair["other"], pair["admin"]
    other_id = other.id
    merge.merge(admin, kept, other, NOW)
    third = builders.factory(kept.belt, name="Third")
    kept_id = kept.id
    merge.merge(admin, third, kept, NOW)
    assert merge.resolve(other_id) == third.id and merge.resolve(kept_id) == third.id
