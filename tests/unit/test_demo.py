"""The demo seeder (DESIGN.md "Demo data and its logins"): logins, factories, Today's groups."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from crm import clock
from crm.demo import seed as demo
from crm.errors import Conflict
from crm.extensions import db
from crm.models import (
    STAGES,
    STATUSES,
    Belt,
    Factory,
    FollowUp,
    Metric,
    MetricSnapshot,
    StageChange,
    Task,
    TaskTemplate,
    User,
    Visit,
)
from crm.services.factories import credit_code
from crm.services.field import followups
from tests import builders

SMALL = 40
# The demo is drawn around the moment it is seeded (which tasks are past due, the local day), so
# a test of its mix seeds and reads it at one moment: a Wednesday, 10:00 in Shanghai. (Seeded at
# the real time, the small demo lost its only waived task near midnight in Shanghai.)
SEEDED_AT = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def seeded(db_session):
    with time_machine.travel(SEEDED_AT, tick=True):
        yield demo.seed_demo("test", factories=SMALL, seed=7)


def user(login: str) -> User:
    return db.session.scalars(select(User).where(User.email == login)).one()


def every(model: type, *conditions) -> list:
    return list(db.session.scalars(select(model).where(*conditions).order_by(model.id)))


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def meets(value, comparison: str, target) -> bool:
    return value >= target if comparison == "at_least" else value <= target


def test_demo_makes_the_six_logins_with_their_roles_and_teams(seeded):
    roles = {login: user(login).role for login in demo.DEMO_LOGINS}
    assert roles == {
        "admin@example.com": "admin",
        "manager@example.com": "manager",
        "manager2@example.com": "manager",
        "rep@example.com": "rep",
        "rep2@example.com": "rep",
        "factory@example.com": "factory",
    }
    manager, manager2 = user("manager@example.com"), user("manager2@example.com")
    first_team, second_team = manager.led_teams[0], manager2.led_teams[0]
    assert first_team != second_team
    assert "Yongkang hardware" in [belt.name_en for belt in first_team.belts]
    assert len(first_team.belts) == 2 and 2 <= len(second_team.belts) <= 3
    assert user("rep@example.com").team == first_team == user("rep2@example.com").team
    assert user("rep3@example.com").team == second_team
    assert user("admin@example.com").team is None


def test_demo_logins_share_one_password_hashed_once(seeded):
    hashes = {user(login).password_hash for login in demo.DEMO_LOGINS}
    assert len(hashes) == 1
    assert check_password_hash(hashes.pop(), demo.DEMO_PASSWORD)


def test_demo_users_have_chinese_names_and_unique_mobile_numbers(seeded):
    users = every(User)
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", person.name) for person in users)
    phones = [person.phone for person in users]
    assert all(re.fullmatch(r"1\d{10}", phone) for phone in phones)
    assert len(set(phones)) == len(phones)


def test_factory_login_owns_a_junior_factory_of_the_demo_rep(seeded):
    owner = user("factory@example.com")
    assert owner.is_factory_owner
    assert owner.factory.stage == "junior" and owner.factory.status == "active"
    assert owner.factory.owner == user("rep@example.com")


def test_belts_come_from_the_csv_with_short_unique_ascii_codes(seeded):
    codes = [belt.code for belt in every(Belt)]
    assert len(codes) == len(demo.read_belts()) == 41
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"[a-z0-9-]{1,40}", code) for code in codes)


def test_every_factory_has_a_valid_unique_credit_code(seeded, db_session):
    codes = db_session.scalars(select(Factory.credit_code)).all()
    assert len(codes) == SMALL
    assert all(credit_code.is_valid(code) and code[:2] == "91" for code in codes)
    assert len(set(codes)) == len(codes)


def test_every_stage_and_status_appears(seeded, db_session):
    pairs = {tuple(row) for row in db_session.execute(select(Factory.status, Factory.stage))}
    assert {status for status, _ in pairs} == set(STATUSES)
    assert {stage for status, stage in pairs if status == "active"} == set(STAGES)
    assert all((stage is None) == (status == "prospect") for status, stage in pairs)


def test_demo_rep_has_active_factories_in_every_stage_and_unowned_prospects_to_claim(
    seeded, db_session
):
    rep = user("rep@example.com")
    stages = db_session.scalars(
        select(Factory.stage).where(Factory.owner_id == rep.id, Factory.status == "active")
    ).all()
    assert set(stages) == set(STAGES)
    unowned = db_session.scalar(
        select(func.count())
        .select_from(Factory)
        .where(Factory.status == "prospect", Factory.owner_id.is_(None))
        .where(Factory.belt_id.in_([belt.id for belt in rep.team.belts]))
    )
    assert unowned >= 1


def test_factories_lie_near_their_belt_and_owners_belong_to_its_team(seeded):
    for factory in every(Factory):
        assert (
            abs(factory.lat - factory.belt.lat) < 0.1 and abs(factory.lng - factory.belt.lng) < 0.1
        )
        if factory.owner is not None:
            assert factory.owner.team == factory.belt.team


def test_demo_rep_sees_overdue_today_and_upcoming_follow_ups(seeded):
    agenda = followups.agenda(user("rep@example.com"), clock.now())
    assert len(agenda.overdue) >= 3
    assert len(agenda.today) >= 3
    assert len(agenda.upcoming) >= 3


def test_non_prospect_factories_have_the_tasks_of_their_stage(seeded, db_session):
    templates = defaultdict(set)
    for template in every(TaskTemplate, TaskTemplate.active.is_(True)):
        templates[template.stage_code].add(template.id)
    tasks = defaultdict(set)
    for factory_id, template_id, stage in db_session.execute(
        select(Task.factory_id, Task.template_id, Task.stage)
    ):
        tasks[factory_id].add((template_id, stage))
    for factory in every(Factory):
        expected = {(template_id, factory.stage) for template_id in templates[factory.stage]}
        assert tasks[factory.id] == (expected if factory.stage else set())


def test_tasks_have_due_dates_from_stage_entry_and_waived_ones_a_reason(seeded):
    tasks = every(Task)
    for task in tasks:
        entered = clock.local(task.factory.stage_entered_at).date()
        assert (task.due_on - entered).days == task.template.due_offset_days
        assert task.status != "waived" or task.waive_reason
        assert task.status != "done" or task.completed_at is not None
    assert {task.status for task in tasks} == {"open", "submitted", "done", "waived"}


def test_factory_times_agree_with_its_visits_and_follow_ups(seeded, db_session):
    now = clock.now()
    for factory in every(Factory):
        visits = every(Visit, Visit.factory_id == factory.id)
        open_ones = every(FollowUp, FollowUp.factory_id == factory.id, FollowUp.status == "open")
        last = max((visit.checked_in_at for visit in visits), default=None)
        assert factory.last_visit_at == last
        assert factory.next_follow_up_at == min((f.due_at for f in open_ones), default=None)
        assert all(visit.checked_in_at <= visit.received_at <= now for visit in visits)
        if factory.status == "active":
            assert len(open_ones) == 1
        if factory.status in ("paused", "churned"):
            assert open_ones == []
        assert factory.stage_entered_at is None or factory.stage_entered_at < now


def test_done_follow_ups_name_the_visit_that_completed_them(seeded):
    done = every(FollowUp, FollowUp.status == "done")
    assert done
    for follow_up in done:
        assert follow_up.completed_at is not None
        assert follow_up.completed_by_visit.factory_id == follow_up.factory_id


def test_visits_have_keys_fingerprints_and_positions_near_the_factory(seeded):
    visits = every(Visit)
    assert len({(visit.rep_id, visit.client_key) for visit in visits}) == len(visits)
    for visit in visits:
        assert re.fullmatch(r"[0-9a-f]{32}", visit.client_key)
        assert re.fullmatch(r"[0-9a-f]{64}", visit.fingerprint)
        assert visit.off_site or visit.distance_m <= 300
        assert visit.position_at <= visit.checked_in_at


def test_snapshots_are_monthly_figures_within_the_metric_range(seeded):
    metrics = {metric.code: metric for metric in every(Metric)}
    snapshots = every(MetricSnapshot)
    assert snapshots
    for snapshot in snapshots:
        metric = metrics[snapshot.metric_code]
        assert snapshot.month.day == 1 and snapshot.month < clock.today()
        assert metric.min_value <= snapshot.value
        assert metric.max_value is None or snapshot.value <= metric.max_value


def test_some_factories_meet_their_targets_and_some_do_not(seeded, db_session):
    outcomes = set()
    for task in every(Task, Task.kind == "measured"):
        latest = db_session.scalar(
            select(MetricSnapshot.value)
            .where(
                MetricSnapshot.factory_id == task.factory_id,
                MetricSnapshot.metric_code == task.metric_code,
            )
            .order_by(MetricSnapshot.month.desc())
            .limit(1)
        )
        if latest is not None:
            outcomes.add(meets(latest, task.comparison, task.target_value))
    assert outcomes == {True, False}


def checklist_complete(factory: Factory, today) -> bool:
    """DESIGN.md "Promotion": required tasks closed, measured ones met by a fresh snapshot."""
    for task in every(Task, Task.factory_id == factory.id):
        if task.kind != "measured":
            if task.required and task.status not in ("done", "waived"):
                return False
            continue
        latest = every(
            MetricSnapshot,
            MetricSnapshot.factory_id == factory.id,
            MetricSnapshot.metric_code == task.metric_code,
        )
        latest = max(latest, key=lambda snapshot: snapshot.month, default=None)
        month_end = latest and (latest.month + timedelta(days=32)).replace(day=1)
        if latest is None or (today - month_end).days > 45:
            return False
        if not meets(latest.value, task.comparison, task.target_value):
            return False
    return True


def test_eligible_since_marks_exactly_the_factories_with_a_complete_checklist(seeded):
    today = clock.today()
    eligible = every(Factory, Factory.eligible_since.is_not(None))
    assert eligible and all(factory.status == "active" for factory in eligible)
    for factory in every(Factory, Factory.status == "active", Factory.stage != "university"):
        assert (factory.eligible_since is not None) == checklist_complete(factory, today)


def test_a_promotion_of_the_demo_rep_awaits_the_manager(seeded):
    pending = every(StageChange, StageChange.decision == "pending")
    assert any(change.requested_by == user("rep@example.com") for change in pending)
    for change in pending:
        assert change.factory.eligible_since is not None
        assert (change.from_stage, change.to_stage) == (
            change.factory.stage,
            STAGES[STAGES.index(change.factory.stage) + 1],
        )


def test_each_factory_history_starts_with_its_signing(seeded):
    for factory in every(Factory, Factory.status != "prospect"):
        first = min(
            every(StageChange, StageChange.factory_id == factory.id),
            key=lambda change: change.requested_at,
        )
        assert (first.from_status, first.to_stage) == ("prospect", "elementary")


def test_a_data_set_at_scale_has_field_reps_with_about_a_hundred_factories_each(db_session):
    counts = demo.seed_demo("test", factories=1_500, seed=5)
    reps = every(User, User.role == "rep")
    assert len(reps) == 1_500 // demo.FACTORIES_PER_REP
    assert counts.users == len(every(User))
    owned = dict(
        db.session.execute(
            select(Factory.owner_id, func.count())
            .where(Factory.owner_id.is_not(None))
            .group_by(Factory.owner_id)
        ).all()
    )
    assert set(owned) == {rep.id for rep in reps}
    # The demo rep no longer holds half a team: everyone holds about the same.
    assert max(owned.values()) < 2 * min(owned.values())
    assert all(rep.team is not None for rep in reps)
    assert {rep.password_hash for rep in reps} == {user("rep@example.com").password_hash}
    for factory in every(Factory, Factory.owner_id.is_not(None)):
        assert factory.owner.team_id == factory.belt.team_id
    # The demo logins keep their showcase: the factory login's junior factory and a request.
    test_factory_login_owns_a_junior_factory_of_the_demo_rep(None)
    test_a_promotion_of_the_demo_rep_awaits_the_manager(None)


def test_seeding_twice_is_refused(seeded):
    with pytest.raises(Conflict):
        demo.seed_demo("test", factories=SMALL)


def test_same_seed_gives_the_same_factories(db_session):
    def factories(seed: int) -> list[tuple]:
        nested = db_session.begin_nested()
        demo.seed_demo("test", factories=30, seed=seed)
        rows = db_session.execute(
            select(Factory.name, Factory.credit_code, Factory.status, Factory.stage).order_by(
                Factory.credit_code
            )
        ).all()
        nested.rollback()
        return [tuple(row) for row in rows]

    assert factories(3) == factories(3)
    assert factories(3) != factories(4)


def test_command_seeds_then_only_prints_the_logins(app, db_session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["crm", "seed-demo", "--factories", "30"])
    assert first.exit_code == 0, first.output
    assert "demo-pass-2026" in first.output
    assert all(login in first.output for login in demo.DEMO_LOGINS)
    counts = (count(User), count(Factory))

    again = runner.invoke(args=["crm", "seed-demo", "--if-empty"])
    assert again.exit_code == 0, again.output
    assert all(login in again.output for login in demo.DEMO_LOGINS)
    assert (count(User), count(Factory)) == counts == (8, 30)

    refused = runner.invoke(args=["crm", "seed-demo"])
    assert refused.exit_code == 1
    assert (count(User), count(Factory)) == counts


def test_command_with_if_empty_leaves_a_database_with_users_alone(app, db_session):
    builders.user("admin")
    db_session.commit()
    result = app.test_cli_runner().invoke(args=["crm", "seed-demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "no demo added" in result.output
    assert not demo.demo_present()
