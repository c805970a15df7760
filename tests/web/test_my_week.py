"""My week (issue 27): a rep's figures per install-local week against a hand-counted fixture,
the team's median over the other reps of the team (no one left out, no one named), scope, and
weeks with nothing in them."""

from __future__ import annotations

import html
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from crm.extensions import db
from crm.models import FollowUp, Task
from crm.services.field import my_week
from tests import builders
from tests.web.helpers import sign_in

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Wednesday 25 Nov 2026, 14:00 in Shanghai: this week runs Monday 23 to Sunday 29 November.
NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
THIS_WEEK = 8  # the index of this week: eight earlier weeks come first


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """An instant given as a wall-clock time in Shanghai in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def done_task(factory, at: datetime, verified_by=None, owner=None) -> Task:
    return builders.task(
        factory,
        status="done",
        completed_at=at,
        verified_by_id=verified_by.id if verified_by else None,
        verified_at=at if verified_by else None,
        owner_id=(owner or factory.owner).id,
    )


def done_follow_up(factory, rep, due_at: datetime, done_at: datetime) -> FollowUp:
    record = builders.follow_up(factory, rep, due_at)
    record.status, record.completed_at = "done", done_at
    return record


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt, other_belt = builders.belt(team), builders.belt(other_team)
    rep = builders.user("rep", team_=team)
    busy = builders.user("rep", team_=team)  # five visits this week, four on site
    light = builders.user("rep", team_=team)  # one visit this week, off site
    idle = builders.user("rep", team_=team)  # nothing at all: still a teammate, counted as 0
    gone = builders.user("rep", team_=team, active=False)  # deactivated: not a teammate
    stranger = builders.user("rep", team_=other_team)  # another team's rep
    manager = builders.user("manager", leads=[team])
    mine = builders.factory(belt, owner=rep, stage="elementary")
    second = builders.factory(belt, owner=rep, stage="elementary")
    prospect = builders.factory(belt, owner=rep, status="prospect")
    busy_factory = builders.factory(belt, owner=busy)
    light_factory = builders.factory(belt, owner=light)
    stranger_factory = builders.factory(other_belt, owner=stranger)

    # Visits. This week: Monday 00:30 (just after the week's start), Tuesday, Wednesday morning
    # (off site): 3, two on site. Sunday 22 Nov 23:30 is last week's; two in the week of 2 Nov;
    # one on 28 Sep (the oldest week shown) and one the evening before it (not shown).
    for at, off_site in (
        (local(23, 0, 30), False),
        (local(24, 11), False),
        (local(25, 9), True),
        (local(22, 23, 30), False),
        (local(3, 10), False),
        (local(5, 16), True),
        (local(28, 10, month=9), False),
        (local(27, 23, month=9), False),
    ):
        builders.visit(mine, rep, checked_in_at=at, off_site=off_site)
    for number in range(5):
        builders.visit(
            busy_factory, busy, checked_in_at=local(24, 9 + number), off_site=number == 0
        )
    builders.visit(light_factory, light, checked_in_at=local(23, 15), off_site=True)
    for number in range(10):
        builders.visit(stranger_factory, stranger, checked_in_at=local(24, 9 + number))
    for number in range(10):
        builders.visit(busy_factory, gone, checked_in_at=local(24, 8 + number))

    # Tasks done this week by the rep's hand: ticked on their factory, a video delivered on
    # their factory (no verifier: the owner's), one of a teammate's factory ticked while
    # standing in. Not theirs: one their manager ticked; one reopened. Last week: one.
    done_task(mine, local(23, 11), verified_by=rep)
    done_task(mine, local(25, 10))
    done_task(busy_factory, local(24, 16), verified_by=rep)
    done_task(second, local(24, 12), verified_by=manager)
    builders.task(mine, status="open", owner_id=rep.id, verified_by_id=rep.id)
    done_task(second, local(22, 20), verified_by=rep)
    done_task(busy_factory, local(23, 12), verified_by=busy)

    # Stage changes: asked for by the rep and approved this week; a manager's direct promotion
    # of the rep's factory (the owner's); a signing three weeks ago. Not counted: refused, a
    # move down, a teammate's request on the rep's factory (the teammate's).
    builders.stage_change(mine, rep, manager, local(24, 15))
    builders.stage_change(second, manager, manager, local(25, 11), decision="direct")
    signing = builders.stage_change(prospect, rep, manager, local(4, 10), to_stage="elementary")
    signing.from_status, signing.from_stage = "prospect", None
    builders.stage_change(mine, rep, manager, local(24, 16), decision="refused")
    down = builders.stage_change(
        second, manager, manager, local(23, 16), decision="direct", to_stage="elementary"
    )
    down.from_stage, down.is_override, down.reason = "junior", True, "Lost its shop"
    builders.stage_change(mine, busy, manager, local(24, 17))

    # Follow-ups done this week: due Monday 10:00, done that afternoon (on time); due Monday,
    # done Tuesday morning (late); due Friday, done today (early: on time); due 10 Nov (late).
    # Not counted: an open one, a cancelled one.
    done_follow_up(mine, rep, local(23, 10), local(23, 15))
    done_follow_up(mine, rep, local(23, 10), local(24, 9))
    done_follow_up(mine, rep, local(27, 10), local(25, 11))
    done_follow_up(mine, rep, local(10, 10), local(24, 10))
    builders.follow_up(mine, rep, local(26, 10))
    cancelled = builders.follow_up(mine, rep, local(23, 10))
    cancelled.status = "cancelled"
    done_follow_up(busy_factory, busy, local(23, 10), local(23, 12))
    db_session.commit()
    return {
        "rep": rep,
        "busy": busy,
        "light": light,
        "idle": idle,
        "gone": gone,
        "stranger": stranger,
        "manager": manager,
        "factory_user": builders.user("factory", factory=mine),
        "mine": mine,
    }


def values(figure: my_week.Figure) -> list:
    return [tally.value for tally in figure.mine]


def test_the_weeks_are_install_local_mondays(world):
    week = my_week.my_week(world["rep"], NOW)
    assert week.weeks[-1] == date(2026, 11, 23) and week.weeks[0] == date(2026, 9, 28)
    assert week.this_week_ends == date(2026, 11, 29)


def test_visits_and_the_share_on_site_against_a_hand_count(world):
    week = my_week.my_week(world["rep"], NOW)
    visits = week.figure("visits")
    # 28 Sep, nothing, ..., two in the week of 2 Nov, Sunday 22 Nov's, this week's three.
    assert values(visits) == [1, 0, 0, 0, 0, 2, 0, 1, 3]
    assert visits.usual == 0  # the median of 1, 0, 0, 0, 0, 2, 0, 1: five weeks of none
    on_site = week.figure("on_site")
    assert (on_site.now.part, on_site.now.whole) == (2, 3)
    assert on_site.now.value == pytest.approx(200 / 3)
    assert on_site.mine[5].value == 50 and on_site.mine[1].value is None
    # The median of the earlier weeks that had visits: 100 (28 Sep), 50, 100.
    assert on_site.usual == 100


def test_tasks_moved_are_those_done_by_the_rep_s_hand(world):
    tasks = my_week.my_week(world["rep"], NOW).figure("tasks")
    assert values(tasks) == [0, 0, 0, 0, 0, 0, 0, 1, 3]


def test_factories_helped_up_a_stage_are_credited_as_on_the_team_page(world):
    stages = my_week.my_week(world["rep"], NOW).figure("stages")
    assert values(stages) == [0, 0, 0, 0, 0, 1, 0, 0, 2]


def test_follow_ups_on_time_are_done_by_the_end_of_their_due_day(world):
    on_time = my_week.my_week(world["rep"], NOW).figure("on_time")
    assert (on_time.now.part, on_time.now.whole) == (2, 4)
    assert on_time.now.value == 50
    assert all(tally.whole == 0 for tally in on_time.mine[:THIS_WEEK])


def test_the_team_median_counts_every_active_teammate_and_no_one_else(world):
    week = my_week.my_week(world["rep"], NOW)
    assert week.teammates == 3  # busy, light and idle; not the rep, the deactivated, a stranger
    # Visits this week: busy 5, light 1, idle 0 -> 1. Leaving idle out would make it 3; the
    # deactivated rep's or the other team's ten visits let in, 3 or 5.
    assert week.figure("visits").team_now == 1
    # On site: busy 80 %, light 0 %; idle had no visits, so no share to take: 40.
    assert week.figure("on_site").team_now == 40
    # Tasks this week: busy 1 (their own), light 0, idle 0.
    assert week.figure("tasks").team_now == 0
    # Busy asked for the promotion of the rep's factory: theirs, not the rep's.
    assert week.figure("stages").team == [0] * 9 and week.figure("stages").now.part == 2
    assert week.figure("on_time").team_now == 100  # busy's one, on time; the others none
    assert week.figure("visits").team[:THIS_WEEK] == [0] * THIS_WEEK
    others = my_week.teammates(world["rep"])
    assert sorted(others) == sorted([world["busy"].id, world["light"].id, world["idle"].id])


def test_the_page_names_no_other_rep(client, world):
    sign_in(client, world["rep"].email)
    response = client.get("/my-week")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "My week" in page and "Team median" in page
    for name in ("busy", "light", "idle", "gone", "stranger"):
        assert world[name].name not in page
    # The chart's words say each week's figure and the team's median.
    assert "this week: 3 (team median 1)" in page
    assert "67%" in page and "2 of 3" in page


def test_a_factory_user_gets_404(client, world):
    sign_in(client, world["factory_user"].email)
    assert client.get("/my-week").status_code == 404


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_a_manager_or_admin_is_pointed_to_the_team_page(client, world, role):
    """My week is a rep's own; a manager reads their reps' weeks on the team page."""
    user = world["manager"] if role == "manager" else builders.user("admin")
    db.session.commit()
    sign_in(client, user.email)
    page = html.unescape(client.get("/my-week").get_data(as_text=True))
    assert 'href="/pipeline/team"' in page
    assert world["rep"].name not in page and "Team median" not in page


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/my-week")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_empty_weeks_show_zeros_and_what_to_do(client, db_session):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    db_session.commit()
    week = my_week.my_week(rep, NOW)
    assert week.is_empty and week.teammates == 0
    assert values(week.figure("visits")) == [0] * 9
    assert week.figure("on_site").now.value is None and week.figure("visits").team_now is None
    sign_in(client, rep.email)
    page = html.unescape(client.get("/my-week").get_data(as_text=True))
    assert "Nothing logged in these nine weeks yet." in page
    assert "no team median" in page and "Team median" not in page


def test_a_rep_alone_in_a_team_has_no_median_but_their_own_figures(world, db_session):
    team = builders.team()
    alone = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=alone)
    builders.visit(factory, alone, checked_in_at=local(24, 10))
    db_session.commit()
    week = my_week.my_week(alone, NOW)
    assert week.figure("visits").now.value == 1 and week.figure("visits").team_now is None


def test_today_and_the_account_page_link_to_my_week(client, world):
    sign_in(client, world["rep"].email)
    assert 'href="/my-week"' in client.get("/today").get_data(as_text=True)
    assert 'href="/my-week"' in client.get("/account/").get_data(as_text=True)
