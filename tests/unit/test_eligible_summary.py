"""The managers' daily summary of newly eligible factories: one inbox item per manager and day
however many factories became eligible, by e-mail when chosen, and a rerun of the day writes
nothing."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.extensions import db
from crm.jobs import JOBS, eligible_summary, scheduler
from crm.models import Delivery, Factory, JobRun, Notification
from tests import builders

# Wednesday 25 November 2026, 06:30 in Shanghai: the summary's period began at 06:00.
NOW = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)
START = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)  # 06:00 on the 25th, local


def run(now: datetime = NOW) -> Counter:
    totals: Counter = Counter()
    for counts in eligible_summary.run(db.session, now):
        totals.update(counts)
    db.session.flush()
    return totals


def summaries(user=None) -> list[Notification]:
    statement = select(Notification).where(Notification.kind == "factory_eligible")
    if user is not None:
        statement = statement.where(Notification.user_id == user.id)
    return list(db.session.scalars(statement.order_by(Notification.id)))


@pytest.fixture
def world(db_session):
    team, other = builders.team(), builders.team()
    belt, other_belt = builders.belt(team), builders.belt(other)
    rep = builders.user("rep", team_=team)
    manager = builders.user("manager", leads=[team])
    second = builders.user("manager", leads=[team])
    far = builders.user("manager", leads=[other])
    quiet = builders.user("manager", leads=[builders.team()])
    return {
        "team": team,
        "belt": belt,
        "other_belt": other_belt,
        "rep": rep,
        "manager": manager,
        "second": second,
        "far": far,
        "quiet": quiet,
    }


def eligible(belt, rep, since: datetime, count: int = 1) -> list[Factory]:
    return [
        builders.factory(belt, owner=rep, name=f"Ready {since:%d%H%M} {n}", eligible_since=since)
        for n in range(count)
    ]


def test_one_summary_per_manager_however_many_factories_became_eligible(world):
    eligible(world["belt"], world["rep"], START - timedelta(hours=1), count=25)
    eligible(world["other_belt"], None, START - timedelta(hours=3), count=2)
    counts = run()
    assert counts["eligible_summaries"] == 3  # manager, second, far; quiet has nothing
    mine = summaries(world["manager"])
    assert len(mine) == 1
    assert mine[0].title == "25 factories became ready for their next stage"
    assert mine[0].link == "/pipeline/stuck?kind=eligible"
    assert mine[0].factory_id is None
    lines = mine[0].body.splitlines()
    assert len(lines) == 12 and lines[10] == "and 15 more"
    assert len(summaries(world["second"])) == 1
    assert summaries(world["far"])[0].title == "2 factories became ready for their next stage"
    assert summaries(world["quiet"]) == []


def test_the_summary_counts_the_day_before_and_only_the_still_eligible(world):
    belt, rep = world["belt"], world["rep"]
    eligible(belt, rep, START - timedelta(hours=23))  # yesterday 07:00: counted
    eligible(belt, rep, START - timedelta(days=1, hours=1))  # before yesterday's summary
    eligible(belt, rep, START + timedelta(minutes=10))  # after today's start: tomorrow's
    paused = eligible(belt, rep, START - timedelta(hours=2))[0]
    paused.status = "paused"
    db.session.flush()
    run()
    assert summaries(world["manager"])[0].title == "1 factory became ready for its next stage"


def test_the_job_is_idempotent_for_its_day(world):
    eligible(world["belt"], world["rep"], START - timedelta(hours=1), count=3)
    assert run()["eligible_summaries"] == 2
    eligible(world["belt"], world["rep"], START - timedelta(hours=2))
    assert run(NOW + timedelta(hours=5))["eligible_summaries"] == 0
    assert len(summaries(world["manager"])) == 1
    # The next day's period names the next day and writes a new one.
    eligible(world["belt"], world["rep"], START + timedelta(hours=3))
    assert run(NOW + timedelta(days=1))["eligible_summaries"] == 2
    assert len(summaries(world["manager"])) == 2


def test_the_summary_comes_by_e_mail_only_to_a_manager_who_chose_it(world):
    world["second"].email_kinds = ["digest"]
    eligible(world["belt"], world["rep"], START - timedelta(hours=1), count=4)
    run()
    mailed = {delivery.notification.user_id for delivery in db.session.scalars(select(Delivery))}
    assert world["manager"].id in mailed and world["second"].id not in mailed


@time_machine.travel(START - timedelta(hours=1), tick=False)
def test_the_scheduler_runs_the_sweep_then_one_summary_a_day(world, app):
    ready = builders.factory(world["belt"], owner=world["rep"], name="Fresh Co")
    builders.task(ready, "Shop opened", status="done")
    db.session.commit()
    runner = scheduler.Runner(app, holder="test-runner")
    try:
        # 05:00: the sweep marks it eligible (and the summary of the day before has nothing).
        runner.tick(START - timedelta(hours=1))
        # 06:00, and again later that morning: one summary names it.
        runner.tick(START)
        runner.tick(START + timedelta(hours=3))
    finally:
        if runner.lease is not None:
            runner.lease.release()
    db.session.expire_all()
    mine = summaries(world["manager"])
    assert len(mine) == 1 and mine[0].body.splitlines()[0] == "Fresh Co"
    keys = db.session.scalars(
        select(JobRun.run_key).where(JobRun.job == "eligible_summary").order_by(JobRun.id)
    )
    assert list(keys) == ["eligible_summary:2026-11-24", "eligible_summary:2026-11-25"]
    assert JOBS["eligible_summary"].key(NOW) == "eligible_summary:2026-11-25"


def test_after_missed_days_the_summary_reaches_back_to_the_last_one(world):
    db.session.add(
        JobRun(
            job="eligible_summary",
            run_key="eligible_summary:2026-11-22",
            outcome="ok",
            started_at=START - timedelta(days=3),
            finished_at=START - timedelta(days=3),
        )
    )
    eligible(world["belt"], world["rep"], START - timedelta(days=2), count=2)
    eligible(world["belt"], world["rep"], START - timedelta(days=4))  # in the 22nd's summary
    run()
    assert summaries(world["manager"])[0].title == "2 factories became ready for their next stage"
