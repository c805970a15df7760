"""The scheduled jobs, each with a frozen clock: what a run creates, that a second run of the
same period creates nothing, and that a run interrupted after its first batch and run again
ends with every item handled exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.jobs import JOBS, Job, daily, digest, reminders, scheduler
from crm.models import (
    AuditEntry,
    Delivery,
    Factory,
    FollowUp,
    Holiday,
    JobRun,
    Notification,
    StageChange,
)
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 25 Nov 2026, 10:00 in Shanghai
TODAY = date(2026, 11, 25)


def ten_local(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)


def run(function, now: datetime = NOW) -> Counter:
    totals: Counter = Counter()
    for counts in function(db.session, now):
        totals.update(counts)
    db.session.flush()
    return totals


def notifications(kind: str | None = None) -> list[Notification]:
    statement = select(Notification).order_by(Notification.id)
    if kind:
        statement = statement.where(Notification.kind == kind)
    return list(db.session.scalars(statement))


def open_follow_ups(factory: Factory) -> list[FollowUp]:
    return list(
        db.session.scalars(
            select(FollowUp).where(FollowUp.factory_id == factory.id, FollowUp.status == "open")
        )
    )


@pytest.fixture
def world(db_session):
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    manager = builders.user("manager", leads=[team])
    return {"team": team, "belt": belt, "rep": rep, "manager": manager}


def staged(world, **fields) -> Factory:
    """A factory of the world's rep that entered its stage (or was made) three days ago."""
    fields.setdefault("created_at", NOW - timedelta(days=3))
    factory = builders.factory(world["belt"], owner=world["rep"], **fields)
    if factory.stage is not None:
        factory.stage_entered_at = NOW - timedelta(days=3)
    return factory


# --- run keys ------------------------------------------------------------------------------


def test_each_run_key_names_the_job_and_its_period(app):
    assert JOBS["reminders"].key(NOW + timedelta(minutes=14)) == "reminders:2026-11-25T10:00"
    assert JOBS["reminders"].key(NOW + timedelta(minutes=15)) == "reminders:2026-11-25T10:15"
    # The sweep's day starts at 05:00 local: at 04:59 it is still yesterday's period.
    assert JOBS["daily"].key(ten_local(TODAY) - timedelta(hours=5, minutes=1)) == (
        "daily:2026-11-24"
    )
    assert JOBS["daily"].key(NOW) == "daily:2026-11-25"
    assert JOBS["digest"].key(NOW) == "digest:2026-W48"
    monday_early = datetime(2026, 11, 30, 6, 59, tzinfo=UTC) - timedelta(hours=8)
    assert JOBS["digest"].key(monday_early) == "digest:2026-W48"
    assert JOBS["digest"].next_start(NOW) == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)


# --- reminders -----------------------------------------------------------------------------


def test_reminders_tell_the_assignee_of_a_follow_up_due_within_the_hour_once(world):
    factory = staged(world, name="永康市恒达五金")
    soon = builders.follow_up(factory, world["rep"], NOW + timedelta(minutes=40), "Shoot videos")
    later = builders.follow_up(factory, world["rep"], NOW + timedelta(hours=2))

    counts = run(reminders.run)

    (item,) = notifications("follow_up_due_soon")
    assert item.user_id == world["rep"].id and item.factory_id == factory.id
    assert item.title == "Follow-up at 10:40: 永康市恒达五金"
    assert item.body == "Shoot videos"
    assert item.dedupe_key == f"follow_up_due_soon:{soon.id}:20261125T1040"
    assert soon.due_soon_reminded_at == NOW and later.due_soon_reminded_at is None
    assert counts["follow_up_due_soon"] == 1
    assert run(reminders.run)["follow_up_due_soon"] == 0
    assert len(notifications()) == 1


def test_reminders_tell_of_a_follow_up_just_overdue_once_and_skip_old_news(world):
    factory = staged(world)
    just = builders.follow_up(factory, world["rep"], NOW - timedelta(minutes=10))
    old = builders.follow_up(factory, world["rep"], NOW - timedelta(days=3))

    run(reminders.run)
    run(reminders.run, NOW + timedelta(minutes=15))

    (item,) = notifications("follow_up_overdue")
    assert item.factory_id == factory.id and item.title.startswith("Overdue follow-up:")
    assert just.overdue_reminded_at == NOW
    # Overdue for days when first seen: marked without a reminder (Today shows it anyway).
    assert old.overdue_reminded_at == NOW


def test_a_moved_follow_up_is_reminded_again_for_its_new_time(world):
    factory = staged(world)
    follow_up = builders.follow_up(factory, world["rep"], NOW + timedelta(minutes=30))
    run(reminders.run)
    follow_up.due_at = NOW + timedelta(days=1, minutes=30)
    follow_up.due_soon_reminded_at = None  # what followups.reschedule does
    run(reminders.run, NOW + timedelta(days=1))
    assert len(notifications("follow_up_due_soon")) == 2


def test_paused_factories_and_closed_follow_ups_get_no_reminders(world):
    paused = staged(world, status="paused")
    builders.follow_up(paused, world["rep"], NOW + timedelta(minutes=30))
    done = builders.follow_up(staged(world), world["rep"], NOW + timedelta(minutes=30))
    done.status, done.completed_at = "done", NOW
    run(reminders.run)
    assert notifications() == []


def test_a_reminder_to_an_overdue_and_a_due_soon_follow_up_queues_their_default_emails(world):
    factory = staged(world)
    builders.follow_up(factory, world["rep"], NOW + timedelta(minutes=30))
    builders.follow_up(factory, world["rep"], NOW - timedelta(minutes=30))
    run(reminders.run)
    deliveries = list(db.session.scalars(select(Delivery)))
    # By default a rep gets the overdue reminder by e-mail, not the due-soon one.
    assert [(d.channel, d.target, d.status) for d in deliveries] == [
        ("email", world["rep"].email, "pending")
    ]


# --- the cadence sweep -----------------------------------------------------------------------


def test_the_sweep_gives_a_factory_without_an_open_follow_up_one_at_its_cadence(world):
    visited = staged(world, stage="junior", last_visit_at=NOW - timedelta(days=3))
    long_ago = staged(world, stage="elementary", last_visit_at=NOW - timedelta(days=30))
    never = staged(world, status="prospect")
    covered = staged(world)
    builders.follow_up(covered, world["rep"], NOW + timedelta(days=5))
    paused = staged(world, status="paused", last_visit_at=NOW - timedelta(days=30))
    unowned = builders.factory(world["belt"], status="prospect")

    counts = run(daily.sweep_cadence)

    assert counts["follow_ups_created"] == 3
    (follow_up,) = open_follow_ups(visited)
    # Junior high is visited every 14 days: 14 days after the last visit, at 10:00 (that
    # day is a Sunday: the Monday after).
    assert follow_up.due_at == ten_local(TODAY + timedelta(days=12))
    assert follow_up.origin == "cadence" and follow_up.assignee_id == world["rep"].id
    assert follow_up.reason == "Regular visit (every 14 days)"
    assert visited.next_follow_up_at == follow_up.due_at
    # A cadence already past, or a factory never visited, is due today.
    assert [f.due_at for f in open_follow_ups(long_ago)] == [ten_local(TODAY)]
    assert [f.due_at for f in open_follow_ups(never)] == [ten_local(TODAY)]
    assert len(open_follow_ups(covered)) == 1
    assert open_follow_ups(paused) == [] and open_follow_ups(unowned) == []
    actors = db.session.scalars(
        select(AuditEntry.actor_job).where(
            AuditEntry.record_type == "follow_up", AuditEntry.action == "schedule"
        )
    ).all()
    assert actors == ["daily"] * 3
    assert run(daily.sweep_cadence)["follow_ups_created"] == 0


def test_the_sweep_skips_holidays_and_the_factorys_closure(world):
    db.session.add(Holiday(day=TODAY + timedelta(days=4), name="Factory fair"))
    on_holiday = staged(world, last_visit_at=NOW - timedelta(days=3))  # 7 days: due in 4
    closed = staged(world)  # never visited: due today, but closed until Thursday week
    builders.closure(closed, TODAY - timedelta(days=1), TODAY + timedelta(days=8))
    run(daily.sweep_cadence)
    assert [f.due_at for f in open_follow_ups(on_holiday)] == [ten_local(TODAY + timedelta(5))]
    # The Friday after the closure.
    assert [f.due_at for f in open_follow_ups(closed)] == [ten_local(TODAY + timedelta(9))]


def test_the_sweep_leaves_a_factory_whose_rep_left_to_be_reassigned(world):
    gone = builders.user("rep", team_=world["team"], active=False)
    factory = builders.factory(world["belt"], owner=gone)
    run(daily.sweep_cadence)
    assert open_follow_ups(factory) == []


# --- stale ---------------------------------------------------------------------------------


def test_a_factory_that_became_stale_is_notified_to_its_rep_once(world):
    # Elementary: visited every 7 days, so stale after 14.
    stale = staged(world, name="Stale Co", last_visit_at=NOW - timedelta(days=16))
    long_stale = staged(world, last_visit_at=NOW - timedelta(days=60))
    fresh = staged(world, last_visit_at=NOW - timedelta(days=5))

    assert run(daily.notify_stale)["stale_notified"] == 1
    assert run(daily.notify_stale)["stale_notified"] == 0

    (item,) = notifications("factory_stale")
    assert item.user_id == world["rep"].id and item.factory_id == stale.id
    assert item.title == "Stale Co has not been visited for 16 days"
    assert {long_stale.id, fresh.id}.isdisjoint({item.factory_id})


def test_a_visit_ends_the_stale_spell_and_a_new_one_is_notified_again(world):
    factory = staged(world, last_visit_at=NOW - timedelta(days=16))
    run(daily.notify_stale)
    factory.last_visit_at = NOW - timedelta(days=1)
    later = NOW + timedelta(days=15)
    run(daily.notify_stale, later)
    assert len(notifications("factory_stale")) == 2


# --- eligibility -------------------------------------------------------------------------------


def test_the_sweep_marks_eligible_factories_without_a_notice_for_each(world):
    ready = staged(world, name="Ready Co")
    builders.task(ready, "Shop opened", status="done")
    builders.task(ready, "Photos", status="waived")
    not_ready = staged(world)
    builders.task(not_ready, "Shop opened", status="open")
    builders.user("manager", leads=[world["team"]])

    counts = run(daily.refresh_eligibility)

    assert ready.eligible_since == NOW and not_ready.eligible_since is None
    assert counts["eligible_found"] == 1
    # The managers hear of it in the morning's one summary (crm.jobs.eligible_summary).
    assert notifications("factory_eligible") == []
    assert run(daily.refresh_eligibility)["eligible_found"] == 0


def test_a_factory_whose_figures_went_stale_loses_its_eligibility(world):
    factory = staged(world, eligible_since=NOW - timedelta(days=2))
    builders.task(
        factory,
        "Answers within 3 minutes",
        kind="measured",
        metric_code="response_3min_rate",
        comparison="at_least",
        target_value=60,
    )
    counts = run(daily.refresh_eligibility)
    assert factory.eligible_since is None and counts["eligibility_lost"] == 1
    assert notifications() == []


# --- the weekly digest ------------------------------------------------------------------------


def test_each_manager_gets_one_digest_of_the_week_before(world):
    rep, manager = world["rep"], world["manager"]
    idle = builders.user("rep", team_=world["team"])
    moved = staged(world, name="Moved Co", stage="junior")
    db.session.add(
        StageChange(
            factory_id=moved.id,
            from_status="active",
            from_stage="elementary",
            to_status="active",
            to_stage="junior",
            requested_by_id=rep.id,
            decided_by_id=manager.id,
            decision="approved",
            decided_at=NOW - timedelta(days=5),
        )
    )
    builders.visit(moved, rep, checked_in_at=NOW - timedelta(days=6))
    builders.visit(moved, rep, checked_in_at=NOW - timedelta(days=1))  # this week: not counted
    builders.follow_up(moved, rep, NOW - timedelta(days=2))
    staged(world, name="Waiting Co", eligible_since=NOW - timedelta(days=4))
    staged(world, last_visit_at=NOW - timedelta(days=40))
    other_team = builders.team()
    builders.user("manager", leads=[other_team])

    counts = run(digest.run)

    assert counts["digests"] == 2
    (item,) = [n for n in notifications("digest") if n.user_id == manager.id]
    assert item.title == "Weekly digest: 2026-11-16 to 2026-11-22"
    assert item.dedupe_key == f"digest:2026-W48:{manager.id}"
    lines = item.body.splitlines()
    assert "Stage moves: 1" in lines
    assert "  • Moved Co: Elementary → Junior high" in lines
    assert f"Overdue follow-ups by rep: {rep.name} 1" in lines
    assert f"Stale factories by rep: {rep.name} 1" in lines
    assert f"Visits per rep: {rep.name} 1, {idle.name} 0" in lines
    assert "Eligible factories waiting: 1" in lines
    assert "  • Waiting Co, waiting 4 days" in lines
    assert run(digest.run)["digests"] == 0


# --- interrupted runs -------------------------------------------------------------------------


@pytest.fixture
def runner(app):
    runner = scheduler.Runner(app, holder="test-runner")
    yield runner
    if runner.lease is not None:
        runner.lease.release()


def crash_after_first_batch(job: Job) -> Job:
    def crashing(session, now):
        for counts in job.run(session, now):
            yield counts
            raise RuntimeError("the process died here")

    return Job(job.name, job.title, job.schedule, crashing)


@time_machine.travel(NOW, tick=False)
def test_a_reminders_run_cut_off_after_its_first_batch_finishes_the_rest_when_run_again(
    world, runner, monkeypatch
):
    monkeypatch.setattr(reminders, "BATCH", 2)
    factory = staged(world)
    follow_ups = [
        builders.follow_up(factory, world["rep"], NOW + timedelta(minutes=5 * n))
        for n in range(1, 6)
    ]
    db.session.commit()
    job = JOBS["reminders"]
    key = job.key(NOW)

    failed = runner.execute(crash_after_first_batch(job), key, NOW)
    assert failed.outcome == "failed" and "the process died here" in failed.error
    assert len(notifications("follow_up_due_soon")) == 2  # the first batch was committed

    done = runner.execute(job, key, NOW, db.session.get(JobRun, failed.id))
    assert done.outcome == "ok" and done.counts["attempts"] == 2
    assert done.counts["follow_up_due_soon"] == 5
    keys = Counter(n.dedupe_key for n in notifications("follow_up_due_soon"))
    assert sorted(keys) == sorted(
        f"follow_up_due_soon:{f.id}:{f.due_at.astimezone(UTC) + timedelta(hours=8):%Y%m%dT%H%M}"
        for f in follow_ups
    )
    assert set(keys.values()) == {1}


@time_machine.travel(NOW, tick=False)
def test_a_sweep_cut_off_after_its_first_batch_gives_each_factory_one_follow_up(
    world, runner, monkeypatch
):
    monkeypatch.setattr(daily, "BATCH", 2)
    factories = [staged(world) for _ in range(5)]
    db.session.commit()
    job = JOBS["daily"]
    key = job.key(NOW)

    failed = runner.execute(crash_after_first_batch(job), key, NOW)
    assert failed.outcome == "failed"
    assert sum(len(open_follow_ups(f)) for f in factories) == 2

    done = runner.execute(job, key, NOW, db.session.get(JobRun, failed.id))
    assert done.outcome == "ok"
    assert [len(open_follow_ups(f)) for f in factories] == [1] * 5
    assert db.session.scalar(select(func.count()).select_from(FollowUp)) == 5
