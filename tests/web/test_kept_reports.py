"""Reports kept (issue 21, point 10): the reports of a scope are read from the live rows once,
kept with the time they were read, and shown from there (saying when) while younger than
thirty minutes; "Count again" reads them anew; only users of that very scope are shown them;
the page and its exports show the same numbers; the background job keeps the ones looked at
fresh and forgets the rest."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, update

from crm.extensions import db
from crm.models import KeptReport, MetricSnapshot, StageChange
from crm.services.growth import stages
from crm.services.reports import kept_reports, reports
from crm.services.reports.report_conversion import conversion
from crm.services.reports.report_targets import target_attainment
from tests import builders
from tests.web.helpers import sign_in
from tests.web.test_pipeline_exports import read_csv

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday, 10:00 in Shanghai


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world(db_session, clock):
    team, other_team = builders.team(), builders.team()
    north = builders.belt(team)
    south = builders.belt(other_team)
    ann = builders.user("rep", team_=team)
    bo = builders.user("rep", team_=other_team)
    made = {}
    for name, belt, owner, stage in (
        ("North junior", north, ann, "junior"),
        ("North senior", north, ann, "senior"),
        ("South junior", south, bo, "junior"),
    ):
        factory = builders.factory(belt, owner=owner, stage=stage, name=name)
        stages.create_stage_tasks(factory, stage, NOW)
        made[name] = factory
    db.session.add(
        MetricSnapshot(
            factory=made["North junior"],
            metric_code="response_3min_rate",
            month=date(2026, 10, 1),
            value=70,
        )
    )
    db.session.add(
        StageChange(
            factory=made["North senior"],
            from_status="active",
            from_stage="junior",
            to_status="active",
            to_stage="senior",
            decision="direct",
            decided_at=NOW - timedelta(days=20),
            requested_at=NOW - timedelta(days=20),
        )
    )
    builders.visit(made["North junior"], ann, checked_in_at=NOW - timedelta(days=1))
    builders.visit(made["South junior"], bo, checked_in_at=NOW - timedelta(days=2))
    db_session.commit()
    return {
        "team": team,
        "other_team": other_team,
        "north": north,
        "south": south,
        "ann": ann,
        "bo": bo,
        "made": made,
        "admin": builders.user("admin"),
        "manager": builders.user("manager", leads=[team]),
        "other_manager": builders.user("manager", leads=[other_team]),
        "twin_manager": builders.user("manager", leads=[team]),
    }


def text_of(response) -> str:
    return response.get_data(as_text=True)


def visit_totals(client) -> dict[str, int]:
    """Each rep's visits in the reports' default period, as the visits export gives them."""
    rows = read_csv(client.get("/pipeline/reports/export?report=visits&format=csv"))
    return {row[1]: int(row[-1]) for row in rows[1:]}


def add_visit(world, days_ago: int = 0) -> None:
    builders.visit(
        world["made"]["North junior"], world["ann"], checked_in_at=NOW - timedelta(days=days_ago)
    )
    db.session.commit()


def test_the_kept_numbers_are_shown_until_they_are_half_an_hour_old(client, world, clock):
    sign_in(client, world["admin"].email)
    ann = world["ann"].name
    page = text_of(client.get("/pipeline/reports"))
    assert "Counted just now" in page
    assert visit_totals(client) == {ann: 1, world["bo"].name: 1}
    add_visit(world)
    clock.move_to(NOW + timedelta(minutes=29))
    page = text_of(client.get("/pipeline/reports"))
    assert "Counted at Nov 25, 2026 10:00" in page and "Count again" in page
    assert visit_totals(client)[ann] == 1  # as counted at 10:00
    clock.move_to(NOW + timedelta(minutes=31))
    assert "Counted just now" in text_of(client.get("/pipeline/reports"))
    assert visit_totals(client)[ann] == 2


def test_count_again_reads_the_numbers_anew_but_not_twice_a_minute(client, world, clock):
    sign_in(client, world["admin"].email)
    client.get("/pipeline/reports")
    add_visit(world)
    clock.move_to(NOW + timedelta(seconds=30))
    page = text_of(client.get("/pipeline/reports?refresh=1"))
    assert "Counted at" in page  # within a minute: the reading in hand
    assert visit_totals(client)[world["ann"].name] == 1
    clock.move_to(NOW + timedelta(minutes=2))
    assert "Counted just now" in text_of(client.get("/pipeline/reports?refresh=1"))
    assert visit_totals(client)[world["ann"].name] == 2


def test_a_bad_refresh_is_refused_by_its_field_and_keeps_nothing(client, world):
    sign_in(client, world["admin"].email)
    response = client.get("/pipeline/reports?refresh=yes")
    assert response.status_code == 422
    assert "Refresh" in text_of(response)
    assert db.session.scalar(select(func.count()).select_from(KeptReport)) == 0


def test_only_users_of_the_very_same_scope_are_shown_a_kept_reading(app, client, world, clock):
    manager, twin, other = world["manager"], world["twin_manager"], world["other_manager"]
    period = (date(2026, 11, 1), date(2026, 11, 25), "week")
    narrow = reports.Narrow()
    keys = {
        name: kept_reports.key_for(world[name], narrow, period)
        for name in ("manager", "twin_manager", "other_manager", "admin")
    }
    assert keys["manager"] == keys["twin_manager"]  # the same belts
    assert len({keys["manager"], keys["other_manager"], keys["admin"]}) == 3
    assert kept_reports.key_for(world["ann"], narrow, period) is None  # a rep's own scope

    sign_in(client, manager.email)
    assert visit_totals(client) == {world["ann"].name: 1}
    add_visit(world)
    other_client = app.test_client()
    sign_in(other_client, other.email)
    assert visit_totals(other_client) == {world["bo"].name: 1}  # not the first manager's
    twin_client = app.test_client()
    sign_in(twin_client, twin.email)
    assert visit_totals(twin_client) == {world["ann"].name: 1}  # the same scope's, as of then


def test_a_narrowed_report_is_kept_apart_from_the_whole_scope(client, world):
    sign_in(client, world["admin"].email)
    assert visit_totals(client) == {world["ann"].name: 1, world["bo"].name: 1}
    rows = read_csv(
        client.get(f"/pipeline/reports/export?report=visits&format=csv&belt={world['south'].id}")
    )
    assert {row[1]: int(row[-1]) for row in rows[1:]} == {world["bo"].name: 1}


def test_a_kept_reading_gives_back_exactly_what_was_read_live(world, app):
    admin, now = world["admin"], NOW
    period = (date(2025, 12, 1), date(2026, 11, 25), "month")
    with app.test_request_context():
        live = kept_reports.read_live(admin, reports.Narrow(), now, period)
        again = kept_reports.decode(kept_reports.encode(*live), now)
    trend, visits, converted, targets = live
    assert again.trend == trend
    assert [(rep.id, counts) for rep, counts in again.visits.rows] == [
        (rep.id, counts) for rep, counts in visits.rows
    ]
    assert sum(sum(counts) for _rep, counts in visits.rows) == 2
    assert again.visits.weeks == visits.weeks
    assert again.conversion.by_quarter == converted.by_quarter
    assert again.conversion.by_belt == converted.by_belt
    assert [belt.id for belt in again.conversion.belts] == [b.id for b in converted.belts]
    assert converted.by_quarter  # the junior to senior change counts
    assert again.targets == targets and any(item.not_met for item in targets)
    assert conversion(admin, reports.Narrow(), now, period=period).by_belt == converted.by_belt
    assert target_attainment(admin, reports.Narrow(), now) == targets


def test_a_kept_reading_of_another_shape_is_read_again(client, world):
    sign_in(client, world["admin"].email)
    client.get("/pipeline/reports")
    row = db.session.scalars(select(KeptReport)).one()
    row.payload = '{"format": 0}'
    db.session.commit()
    add_visit(world)
    assert "Counted just now" in text_of(client.get("/pipeline/reports"))
    assert visit_totals(client)[world["ann"].name] == 2


def run_job(now: datetime) -> dict[str, int]:
    """The reports job once, committed as the runner commits; its counts summed."""
    counts: dict[str, int] = {}
    for batch in kept_reports.refresh_due(db.session, now):
        for name, number in batch.items():
            counts[name] = counts.get(name, 0) + number
    db.session.commit()
    return counts


def kept(key_part: str = "") -> list[KeptReport]:
    return [row for row in db.session.scalars(select(KeptReport)) if key_part in row.key]


def test_the_job_counts_again_what_was_looked_at_and_forgets_the_rest(app, client, world, clock):
    sign_in(client, world["admin"].email)
    client.get("/pipeline/reports")
    client.get("/pipeline/reports?from=2026-01-01&to=2026-03-31")  # a period that has ended
    manager_client = app.test_client()
    sign_in(manager_client, world["manager"].email)
    manager_client.get("/pipeline/reports")
    assert len(kept()) == 3
    add_visit(world)
    # The manager stops leading the team: their kept reading is no longer theirs.
    world["manager"].led_teams = []
    db.session.commit()

    later = NOW + timedelta(minutes=11)
    counts = run_job(later)
    assert counts == {"refreshed": 1, "dropped": 1, "forgotten": 0}
    (whole,) = kept("|all|belt:|rep:|default||month")
    assert whole.computed_at == later
    ann_row = next(row for row in kept_reports.decode(whole.payload, later).visits.rows)
    assert sum(ann_row[1]) == 2
    assert len(kept("|all|")) == 2  # the ended period stays as it was, until forgotten

    assert run_job(NOW + timedelta(days=1, minutes=5))["forgotten"] == 2
    assert kept() == []


def test_a_reading_the_job_cannot_make_again_is_dropped_and_the_others_go_on(
    app, client, world, clock, monkeypatch
):
    sign_in(client, world["admin"].email)
    client.get("/pipeline/reports")
    manager_client = app.test_client()
    sign_in(manager_client, world["manager"].email)
    manager_client.get("/pipeline/reports")
    real = kept_reports.read_live

    def failing_for_the_admin(actor, *rest):
        if actor.role == "admin":
            raise RuntimeError("a poisoned reading")
        return real(actor, *rest)

    monkeypatch.setattr(kept_reports, "read_live", failing_for_the_admin)
    later = NOW + timedelta(minutes=11)
    counts = run_job(later)
    assert counts == {"dropped": 1, "refreshed": 1, "forgotten": 0}
    assert kept("|all|") == [] and kept("|belts:")[0].computed_at == later


def test_the_default_periods_reading_rolls_on_to_the_next_day(app, client, world, clock):
    """The reports as they open (no period chosen) are kept under the default period, not its
    dates: after midnight the job counts them again for the new day, so the first look of the
    morning waits for nothing; a reading of the day before is never shown as today's."""
    sign_in(client, world["admin"].email)
    client.get("/pipeline/reports")
    chosen_as_default = "/pipeline/reports?from=2025-12-01&to=2026-11-25&granularity=month"
    assert "Counted at" in text_of(client.get(chosen_as_default))  # the same period: shared
    (rolling,) = kept()
    assert "|default||month" in rolling.key

    # 23:55 on the last day of November: kept; a visit; 00:05 on 1 December: not the day
    # before's reading.
    clock.move_to(datetime(2026, 11, 30, 15, 55, tzinfo=UTC))
    client.get("/pipeline/reports")
    add_visit(world)
    clock.move_to(datetime(2026, 11, 30, 16, 5, tzinfo=UTC))
    assert "Counted just now" in text_of(client.get("/pipeline/reports"))
    assert kept()[0].key == rolling.key  # one reading, rolled on

    # The job, just after midnight, counts the day before's reading for the new day.
    db.session.execute(
        update(KeptReport).values(computed_at=datetime(2026, 11, 30, 15, 58, tzinfo=UTC))
    )
    db.session.commit()
    midnight_run = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 00:00 on 1 December
    assert run_job(midnight_run) == {"refreshed": 1, "forgotten": 0}
    reading = kept_reports.decode(kept()[0].payload, midnight_run)
    assert reading.trend.months[0] == date(2026, 1, 1)  # twelve months up to December
    assert reading.trend.months[-1] == date(2026, 12, 1)
