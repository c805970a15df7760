"""The working calendar, with the clock frozen in 2026 (the latest year chinesecalendar
covers): due dates land on the factory's working days (weekends off unless made up, public
holidays off, the factory's closures skipped), the calendar is seeded from the library, and
a rep on leave gets no reminders while their stand-in gets them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.errors import Invalid
from crm.extensions import db
from crm.jobs import daily, reminders
from crm.models import FactoryClosure, FollowUp, Holiday, Leave, Notification
from crm.services.calendar import closures, holidays, leaves, working_days
from crm.services.field import followups
from tests import builders

# Tuesday 10 February 2026, 10:00 in Shanghai: the Spring Festival holiday runs from Sunday
# 15 to Monday 23 February; Saturday 14 and Saturday 28 February are make-up working days.
NOW = datetime(2026, 2, 10, 2, 0, tzinfo=UTC)
TODAY = date(2026, 2, 10)


def ten_local(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)


def run(function, now: datetime = NOW) -> Counter:
    totals: Counter = Counter()
    for counts in function(db.session, now):
        totals.update(counts)
    db.session.flush()
    return totals


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    holidays.seed_year("test", 2026)
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    stand_in = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, stage="elementary")  # a cadence of 7 days
    return {
        "team": team,
        "belt": belt,
        "rep": rep,
        "stand_in": stand_in,
        "manager": builders.user("manager", leads=[team]),
        "factory": factory,
    }


# --- which day is a working day -------------------------------------------------------------


def test_the_seeded_calendar_holds_2026s_days_off_and_make_up_days(world):
    assert db.session.get(Holiday, date(2026, 2, 17)).kind == "holiday"
    assert db.session.get(Holiday, date(2026, 2, 14)).kind == "workday"
    assert db.session.get(Holiday, date(2026, 2, 28)).kind == "workday"
    # Seeding again adds nothing; a day the admin removed is not put back at the next start.
    assert holidays.seed_year("test", 2026) == 0
    assert holidays.seed_new_install("test", TODAY) == {2027: 0}


def test_a_cadence_falling_in_the_spring_festival_lands_on_the_first_working_day_after(world):
    factory = world["factory"]
    factory.last_visit_at = ten_local(date(2026, 2, 10))  # 7 days on: Tuesday 17, New Year
    run(daily.sweep_cadence)
    (follow_up,) = db.session.scalars(select(FollowUp).where(FollowUp.factory_id == factory.id))
    assert follow_up.due_at == ten_local(date(2026, 2, 24))  # Tuesday 24, the first at work


def test_a_make_up_saturday_counts_as_working_and_a_plain_saturday_does_not(world):
    factory = world["factory"]
    assert followups.due_day(factory, date(2026, 2, 14)) == date(2026, 2, 14)
    assert followups.due_day(factory, date(2026, 2, 28)) == date(2026, 2, 28)
    assert followups.due_day(factory, date(2026, 3, 7)) == date(2026, 3, 9)  # to Monday
    calendar = working_days.load(TODAY)
    assert calendar.is_working_day(date(2026, 2, 14))
    assert not calendar.is_working_day(date(2026, 2, 15))  # a Sunday within the holiday
    assert not calendar.is_working_day(date(2026, 2, 23))  # a Monday within the holiday


def test_a_moved_follow_up_skips_the_holiday_and_the_factorys_closure(world):
    factory, rep = world["factory"], world["rep"]
    builders.closure(factory, date(2026, 2, 24), date(2026, 3, 3), "Spring Festival break")
    follow_up = followups.schedule(rep, factory, date(2026, 2, 12), "", NOW)
    followups.reschedule(rep, follow_up, date(2026, 2, 16), NOW)
    # Past the holiday (to the 23rd), then past the factory's own break (to 3 March).
    assert follow_up.due_at == ten_local(date(2026, 3, 4))
    # Another factory, without the closure, works on the 24th.
    other = builders.factory(world["belt"], owner=rep)
    assert followups.due_day(other, date(2026, 2, 16)) == date(2026, 2, 24)


def test_the_sweep_skips_a_factorys_closure(world):
    factory = world["factory"]  # never visited: due today, but closed for the week
    builders.closure(factory, date(2026, 2, 9), date(2026, 2, 12))
    run(daily.sweep_cadence)
    (follow_up,) = db.session.scalars(select(FollowUp).where(FollowUp.factory_id == factory.id))
    assert follow_up.due_at == ten_local(date(2026, 2, 13))  # Friday
    assert factory.next_follow_up_at == follow_up.due_at


def test_a_new_closure_moves_the_open_follow_ups_within_it(world):
    factory, rep = world["factory"], world["rep"]
    inside = followups.schedule(rep, factory, date(2026, 3, 3), "Photos", NOW)
    after = followups.schedule(rep, factory, date(2026, 3, 10), "Training", NOW)
    closures.add(rep, factory, date(2026, 3, 2), date(2026, 3, 5), "Moving workshop", NOW)
    assert inside.due_at == ten_local(date(2026, 3, 6))
    assert after.due_at == ten_local(date(2026, 3, 10))


# --- bad input: a message by the field, nothing changed -------------------------------------


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "field"),
    [
        (date(2026, 3, 5), date(2026, 3, 2), "ends_on"),  # until before from
        (date(2026, 1, 5), date(2026, 2, 1), "ends_on"),  # wholly past
        (date(2029, 1, 1), date(2029, 1, 5), "starts_on"),  # beyond two years
        (date(2026, 3, 1), date(2027, 6, 1), "ends_on"),  # longer than a year
        (None, date(2026, 3, 1), "starts_on"),
    ],
)
def test_a_closure_with_bad_dates_is_refused_by_the_field(world, starts_on, ends_on, field):
    with pytest.raises(Invalid) as refused:
        closures.add(world["rep"], world["factory"], starts_on, ends_on, "", NOW)
    assert field in refused.value.fields
    assert db.session.scalar(select(func.count()).select_from(FactoryClosure)) == 0


def test_a_leave_with_a_stand_in_of_another_team_is_refused(world):
    stranger = builders.user("rep", team_=builders.team())
    with pytest.raises(Invalid) as refused:
        leaves.add(
            world["manager"],
            world["rep"].id,
            stranger.id,
            date(2026, 2, 11),
            date(2026, 2, 13),
            NOW,
        )
    assert set(refused.value.fields) == {"stand_in"}
    assert db.session.scalar(select(func.count()).select_from(Leave)) == 0


def test_a_manager_enters_leave_only_for_their_own_reps(world):
    other_team = builders.team()
    theirs = builders.user("rep", team_=other_team)
    with pytest.raises(Invalid) as refused:
        leaves.add(
            world["manager"],
            theirs.id,
            builders.user("rep", team_=other_team).id,
            date(2026, 2, 11),
            date(2026, 2, 13),
            NOW,
        )
    assert set(refused.value.fields) == {"rep"}


def test_a_leave_overlapping_another_of_the_same_rep_is_refused(world):
    args = (world["manager"], world["rep"].id, world["stand_in"].id)
    leaves.add(*args, date(2026, 2, 11), date(2026, 2, 13), NOW)
    with pytest.raises(Invalid) as refused:
        leaves.add(*args, date(2026, 2, 13), date(2026, 2, 16), NOW)
    assert "starts_on" in refused.value.fields
    assert db.session.scalar(select(func.count()).select_from(Leave)) == 1


def test_a_day_out_of_the_admins_years_is_refused_by_the_field(world):
    admin = builders.user("admin")
    with pytest.raises(Invalid) as refused:
        holidays.add_day(admin, date(2040, 1, 2), "holiday", "", TODAY)
    assert "day" in refused.value.fields
    with pytest.raises(Invalid) as refused:
        holidays.add_day(admin, date(2026, 2, 17), "holiday", "", TODAY)  # there already
    assert "day" in refused.value.fields
    assert db.session.get(Holiday, date(2040, 1, 2)) is None


# --- the admin's warning ------------------------------------------------------------------


def test_the_coming_year_without_data_is_named_for_the_admins_warning(world):
    # The library knows nothing of 2027 yet: seeding it adds nothing, and the warning stays.
    assert not holidays.library_has(2027)
    assert holidays.seed_year("test", 2027) == 0
    assert holidays.missing_year(TODAY) == 2027
    db.session.add(Holiday(day=date(2027, 1, 1), name="New Year's Day"))
    db.session.flush()
    assert holidays.missing_year(TODAY) is None


# --- leave: no reminders for the rep, their stand-in gets them ----------------------------


def test_a_rep_on_leave_gets_no_reminder_and_the_stand_in_does(world):
    rep, stand_in, factory = world["rep"], world["stand_in"], world["factory"]
    builders.leave(rep, stand_in, TODAY, TODAY + timedelta(days=2))
    builders.follow_up(factory, rep, NOW + timedelta(minutes=30), "Shoot videos")
    run(reminders.run)
    notified = db.session.scalars(select(Notification.user_id)).all()
    assert notified == [stand_in.id]


def test_after_the_leave_the_rep_is_reminded_again(world):
    rep, stand_in, factory = world["rep"], world["stand_in"], world["factory"]
    builders.leave(rep, stand_in, TODAY - timedelta(days=5), TODAY - timedelta(days=1))
    builders.follow_up(factory, rep, NOW + timedelta(minutes=30))
    run(reminders.run)
    assert db.session.scalars(select(Notification.user_id)).all() == [rep.id]


def test_the_stand_in_sees_the_follow_ups_only_during_the_leave(world):
    rep, stand_in, factory = world["rep"], world["stand_in"], world["factory"]
    builders.leave(rep, stand_in, date(2026, 2, 11), date(2026, 2, 13))
    during = builders.follow_up(factory, rep, ten_local(date(2026, 2, 12)), "During")
    builders.follow_up(factory, rep, ten_local(date(2026, 2, 16)), "After the leave")

    def seen_on(moment: datetime) -> list[str]:
        agenda = followups.agenda(stand_in, moment)
        return [item.reason for item in (*agenda.overdue, *agenda.today, *agenda.upcoming)]

    assert seen_on(NOW) == []  # the day before the leave
    assert seen_on(ten_local(date(2026, 2, 11))) == ["During"]
    assert seen_on(ten_local(date(2026, 2, 14))) == []  # the leave is over
    assert during.assignee_id == rep.id  # nothing was handed over


def test_a_factory_gone_stale_while_its_rep_is_on_leave_is_told_to_the_stand_in(world):
    rep, stand_in, factory = world["rep"], world["stand_in"], world["factory"]
    factory.last_visit_at = NOW - timedelta(days=16)  # elementary: stale after 14 days
    builders.leave(rep, stand_in, TODAY, TODAY + timedelta(days=2))
    run(daily.notify_stale)
    assert db.session.scalars(select(Notification.user_id)).all() == [stand_in.id]
