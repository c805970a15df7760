"""Follow-ups by the rules: 10:00 local, holidays and closures skipped, no past dates,
the factory's next follow-up kept true, a completion records its visit."""

from __future__ import annotations

from dataclasses import astuple
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.errors import Conflict, Invalid, NotAllowed
from crm.extensions import db
from crm.models import AuditEntry, FollowUp, Holiday
from crm.models.followup import REASON_MAX
from crm.services.field import followups, geo
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 25 Nov 2026, 10:00 in Shanghai
TODAY = date(2026, 11, 25)


def shanghai_ten(day: date) -> datetime:
    """10:00 Asia/Shanghai on a day, in UTC (the zone has no daylight saving)."""
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)


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
    }


def audit_actions(follow_up: FollowUp) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.record_type == "follow_up", AuditEntry.record_id == follow_up.id)
            .order_by(AuditEntry.id)
        )
    )


# --- due dates ------------------------------------------------------------------------------


def test_a_picked_date_lands_at_ten_in_the_installs_zone(world):
    follow_up = followups.schedule(
        world["rep"], world["factory"], date(2026, 11, 27), "Shoot the videos", NOW
    )
    assert follow_up.due_at == shanghai_ten(date(2026, 11, 27))
    assert follow_up.origin == "manual" and follow_up.status == "open"
    assert follow_up.assignee_id == world["rep"].id
    assert follow_up.created_by_id == world["rep"].id


def test_a_due_date_skips_the_holiday_calendar(world, db_session):
    for day in (date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)):
        db_session.add(Holiday(day=day, name="National Day"))
    db_session.flush()
    # Past the three days off and the Sunday after them.
    assert followups.due_instant(world["factory"], date(2026, 10, 1)) == shanghai_ten(
        date(2026, 10, 5)
    )
    assert followups.due_instant(world["factory"], date(2026, 9, 30)) == shanghai_ten(
        date(2026, 9, 30)
    )


def test_a_due_date_skips_the_factorys_closure_and_the_holidays_after_it(world, db_session):
    factory = world["factory"]
    builders.closure(factory, date(2026, 12, 1), date(2026, 12, 3))  # Tuesday to Thursday
    db_session.add(Holiday(day=date(2026, 12, 4), name="Company holiday"))  # Friday
    db_session.flush()
    follow_up = followups.schedule(world["rep"], factory, date(2026, 12, 1), "", NOW)
    # Past the closure, the holiday and the weekend: Monday.
    assert follow_up.due_at == shanghai_ten(date(2026, 12, 7))
    # After the closure, a day is kept as it is.
    assert followups.due_instant(factory, date(2026, 12, 8)) == shanghai_ten(date(2026, 12, 8))


def test_a_quick_pick_counts_from_the_check_in_day():
    assert followups.in_days(date(2026, 11, 20), 3) == date(2026, 11, 23)
    assert followups.in_days(date(2026, 12, 30), 7) == date(2027, 1, 6)


# --- refusals ---------------------------------------------------------------------------------


def test_a_day_before_today_is_refused_and_nothing_is_made(world):
    with pytest.raises(Invalid) as refused:
        followups.schedule(world["rep"], world["factory"], TODAY - timedelta(days=1), "", NOW)
    assert "due_on" in refused.value.fields
    assert db.session.scalar(select(FollowUp)) is None
    assert world["factory"].next_follow_up_at is None


def test_today_itself_may_be_picked(world):
    follow_up = followups.schedule(world["rep"], world["factory"], TODAY, "", NOW)
    assert follow_up.due_at == shanghai_ten(TODAY)


def test_a_day_that_a_rule_worked_out_lands_today_rather_than_refused(world):
    # A visit queued on the phone for days: its quick pick counted from the check-in is past.
    follow_up = followups.schedule(
        world["rep"], world["factory"], TODAY - timedelta(days=2), "", NOW, origin="visit"
    )
    assert follow_up.due_at == shanghai_ten(TODAY)


def test_no_date_at_all_is_refused_by_the_date_field(world):
    with pytest.raises(Invalid) as refused:
        followups.schedule(world["rep"], world["factory"], None, "", NOW)
    assert "due_on" in refused.value.fields


def test_a_reason_longer_than_the_column_is_refused(world):
    with pytest.raises(Invalid) as refused:
        followups.schedule(world["rep"], world["factory"], TODAY, "x" * (REASON_MAX + 1), NOW)
    assert "reason" in refused.value.fields


def test_moving_to_a_past_day_is_refused_and_nothing_changes(world):
    follow_up = followups.schedule(world["rep"], world["factory"], date(2026, 11, 27), "", NOW)
    with pytest.raises(Invalid) as refused:
        followups.reschedule(world["rep"], follow_up, date(2026, 11, 1), NOW)
    assert "due_on" in refused.value.fields
    assert follow_up.due_at == shanghai_ten(date(2026, 11, 27))


@pytest.mark.parametrize("close", ["complete", "cancel"])
def test_a_follow_up_that_is_not_open_cannot_change(world, close):
    follow_up = followups.schedule(world["rep"], world["factory"], TODAY, "", NOW)
    getattr(followups, close)(world["rep"], follow_up, NOW)
    status = follow_up.status
    with pytest.raises(Conflict):
        followups.complete(world["rep"], follow_up, NOW)
    with pytest.raises(Conflict):
        followups.cancel(world["rep"], follow_up, NOW)
    with pytest.raises(Conflict):
        followups.reschedule(world["rep"], follow_up, date(2026, 12, 1), NOW)
    assert follow_up.status == status
    assert follow_up.due_at == shanghai_ten(TODAY)


def test_a_factory_user_may_not_schedule(world):
    with pytest.raises(NotAllowed):
        followups.schedule(world["factory_user"], world["factory"], TODAY, "", NOW)


# --- the factory's next follow-up -----------------------------------------------------------------


def test_next_follow_up_at_follows_every_change(world):
    factory, rep = world["factory"], world["rep"]
    later = followups.schedule(rep, factory, date(2026, 12, 10), "Training", NOW)
    assert factory.next_follow_up_at == shanghai_ten(date(2026, 12, 10))
    sooner = followups.schedule(rep, factory, date(2026, 11, 30), "Photos", NOW)
    assert factory.next_follow_up_at == shanghai_ten(date(2026, 11, 30))
    followups.reschedule(rep, sooner, date(2026, 12, 21), NOW)
    assert factory.next_follow_up_at == shanghai_ten(date(2026, 12, 10))
    followups.complete(rep, later, NOW)
    assert factory.next_follow_up_at == shanghai_ten(date(2026, 12, 21))
    followups.cancel(rep, sooner, NOW)
    assert factory.next_follow_up_at is None
    assert followups.oldest_open(factory) is None


def test_oldest_open_is_the_one_due_first(world):
    factory, rep = world["factory"], world["rep"]
    followups.schedule(rep, factory, date(2026, 12, 10), "", NOW)
    first = followups.schedule(rep, factory, date(2026, 11, 26), "", NOW)
    assert followups.oldest_open(factory) is first
    assert followups.next_open(factory) is first


# --- completion and the audit -----------------------------------------------------------------


def test_completing_records_when_and_the_visit_that_completed_it(world):
    follow_up = followups.schedule(world["rep"], world["factory"], TODAY, "", NOW)
    visit = builders.visit(world["factory"], world["rep"])
    followups.complete(world["rep"], follow_up, NOW + timedelta(hours=1), visit=visit)
    assert follow_up.status == "done"
    assert follow_up.completed_at == NOW + timedelta(hours=1)
    assert follow_up.completed_by_visit_id == visit.id


def test_completing_without_a_visit_leaves_the_visit_empty(world):
    follow_up = followups.schedule(world["rep"], world["factory"], TODAY, "", NOW)
    followups.complete(world["manager"], follow_up, NOW)
    assert follow_up.status == "done" and follow_up.completed_by_visit_id is None


def test_a_visit_of_another_factory_cannot_complete_it(world):
    other = builders.factory(world["factory"].belt, owner=world["rep"])
    follow_up = followups.schedule(world["rep"], world["factory"], TODAY, "", NOW)
    with pytest.raises(Invalid):
        followups.complete(world["rep"], follow_up, NOW, visit=builders.visit(other, world["rep"]))
    assert follow_up.status == "open"


def test_each_change_is_audited_with_the_fields_it_changed(world):
    follow_up = followups.schedule(world["rep"], world["factory"], TODAY, "Photos", NOW)
    followups.reschedule(world["rep"], follow_up, date(2026, 11, 30), NOW)
    followups.cancel(world["rep"], follow_up, NOW)
    assert audit_actions(follow_up) == ["schedule", "reschedule", "cancel"]
    moved = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "reschedule", AuditEntry.record_type == "follow_up"
        )
    ).one()
    assert set(moved.changes) == {"due_at"}
    assert moved.actor_id == world["rep"].id


def test_a_job_schedules_as_the_system_for_the_factorys_rep(world):
    follow_up = followups.schedule(
        "cadence", world["factory"], TODAY, "Stage cadence", NOW, origin="cadence"
    )
    assert follow_up.assignee_id == world["rep"].id and follow_up.created_by_id is None
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "schedule")).one()
    assert entry.actor_job == "cadence"


def test_moving_sends_its_reminders_again(world):
    follow_up = followups.schedule(world["rep"], world["factory"], TODAY, "", NOW)
    follow_up.due_soon_reminded_at = follow_up.overdue_reminded_at = NOW
    followups.reschedule(world["rep"], follow_up, date(2026, 12, 2), NOW)
    assert follow_up.due_soon_reminded_at is None and follow_up.overdue_reminded_at is None


# --- the agenda ------------------------------------------------------------------------------


def test_the_agenda_puts_overdue_first_then_today_then_the_next_days(world):
    factory, rep = world["factory"], world["rep"]
    builders.follow_up(factory, rep, NOW + timedelta(days=3), reason="later")
    builders.follow_up(factory, rep, NOW + timedelta(hours=2), reason="today")
    builders.follow_up(factory, rep, NOW - timedelta(days=1), reason="overdue")
    builders.follow_up(factory, rep, NOW + timedelta(days=30), reason="too far")
    agenda = followups.agenda(rep, NOW)
    assert [f.reason for f in agenda.overdue] == ["overdue"]
    assert [f.reason for f in agenda.today] == ["today"]
    assert [f.reason for f in agenda.upcoming] == ["later"]


def test_todays_rows_are_the_agendas_follow_ups_with_the_columns_it_shows(world):
    factory, rep = world["factory"], world["rep"]
    for due in (NOW + timedelta(days=3), NOW + timedelta(hours=2), NOW - timedelta(days=1)):
        builders.follow_up(factory, rep, due, reason="")
    builders.follow_up(factory, world["manager"], NOW, reason="the manager's")
    records, rows = followups.agenda(rep, NOW), followups.agenda_rows(rep, NOW)
    for group in ("overdue", "today", "upcoming"):
        expected = [
            (
                *(f.id, f.due_at, f.reason, factory.id, factory.name),
                *(factory.stage, factory.status, f.assignee_id),
            )
            for f in getattr(records, group)
        ]
        assert [astuple(row) for row in getattr(rows, group)] == expected
        assert expected


def test_the_agenda_checks_the_scope_of_the_persons_own_follow_ups_factories(world):
    """Issue 25: Today read every factory id of a rep's scope (the team's unowned prospects
    too, 3,352 on the bench: 14 ms) to keep a few dozen follow-ups; the scope is now checked on
    each follow-up's own factory, joined by its key, with the same outcome."""
    rep, belt = world["rep"], world["factory"].belt
    unowned = builders.factory(belt, status="prospect", name="Unowned prospect")
    elsewhere = builders.factory(builders.belt(builders.team()), owner=None, name="Elsewhere")
    builders.follow_up(world["factory"], rep, NOW + timedelta(hours=1), reason="mine")
    builders.follow_up(unowned, rep, NOW + timedelta(hours=2), reason="team's prospect")
    builders.follow_up(elsewhere, rep, NOW + timedelta(hours=3), reason="out of scope")
    agenda, rows = followups.agenda(rep, NOW), followups.agenda_rows(rep, NOW)
    assert [f.reason for f in agenda.today] == ["mine", "team's prospect"]
    assert [row.reason for row in rows.today] == ["mine", "team's prospect"]
    statement = followups._agenda_statement(rep, NOW, followups.AGENDA_DAYS)
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    assert "SELECT factories.id" not in sql and "JOIN factories ON" in sql, sql


# --- distances -------------------------------------------------------------------------------


def test_haversine_distance_in_metres():
    assert geo.distance_m(29.87, 121.55, 29.87, 121.55) == 0
    # One degree of latitude is about 111.2 km anywhere.
    assert geo.distance_m(29.0, 121.0, 30.0, 121.0) == pytest.approx(111_195, rel=1e-3)
    # Ningbo to Yiwu, about 155 km as the crow flies.
    assert geo.distance_m(29.8683, 121.5440, 29.3069, 120.0751) == pytest.approx(155_100, rel=0.01)


@pytest.mark.parametrize(
    ("lat", "lng", "field"),
    [
        ("", "121", "lat"),
        ("abc", "121", "lat"),
        ("91", "121", "lat"),
        ("nan", "1", "lat"),
        ("29.8", "181", "lng"),
        ("29.8", None, "lng"),
        ("29.8", "inf", "lng"),
    ],
)
def test_a_bad_position_is_refused_by_its_field(lat, lng, field):
    with pytest.raises(Invalid) as refused:
        geo.parse_position(lat, lng)
    assert field in refused.value.fields


def test_the_nearest_factories_in_scope_come_first(world):
    rep, belt = world["rep"], world["factory"].belt
    far = builders.factory(belt, owner=rep, name="Far", lat=29.95, lng=121.60)
    near = builders.factory(belt, owner=rep, name="Near", lat=29.8701, lng=121.5501)
    builders.factory(belt, owner=rep, name="Nowhere")  # no location: not listed
    other_rep = builders.user("rep", team_=rep.team)
    builders.factory(belt, owner=other_rep, name="Not mine", lat=29.87, lng=121.55)
    found = geo.nearest(rep, 29.87, 121.55, TODAY)
    assert [place.factory.name for place in found] == ["Near", "Far"]
    assert found[0].factory is near and found[0].distance_m < 20
    assert found[1].factory is far and 9_000 < found[1].distance_m < 11_000
