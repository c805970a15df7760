"""My week on a 390 px phone, in English and Chinese: reached from Today, each figure's chart
drawn with its words for screen readers, and the page guard's checks (targets, width, axe, CSP)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.clock import now
from tests import builders
from tests.browser.test_homes import sign_in


@pytest.fixture
def rep_with_weeks(live_db, request):
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team, locale=request.param)
    mate = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, stage="junior", name="永康市恒达五金制品有限公司")
    theirs = builders.factory(belt, owner=mate)
    for days_ago, count in ((0, 2), (7, 4), (14, 3), (28, 5), (35, 1), (49, 2)):
        for number in range(count):
            builders.visit(
                factory,
                rep,
                checked_in_at=now() - timedelta(days=days_ago, hours=number),
                off_site=number == 0,
            )
    for days_ago in (0, 7, 14):
        builders.visit(theirs, mate, checked_in_at=now() - timedelta(days=days_ago))
    done = builders.follow_up(factory, rep, now() - timedelta(days=1))
    done.status, done.completed_at = "done", now() - timedelta(hours=1)
    builders.task(
        factory, status="done", completed_at=now(), verified_by_id=rep.id, owner_id=rep.id
    )
    live_db.commit()
    return rep.email


@pytest.mark.parametrize("rep_with_weeks", ["en", "zh_Hans"], indirect=True)
def test_my_week_reads_on_a_phone(page, page_guard, rep_with_weeks, request):
    sign_in(page, rep_with_weeks)
    page.goto("/today")
    page_guard.check(page)
    page_guard.screenshot(f"my-week-from-today-{request.node.callspec.id}")
    page.locator('a[href="/my-week"]').click()
    page.wait_for_url("**/my-week")
    charts = page.locator("svg.my-week-chart")
    assert charts.count() == 5
    for index in range(5):
        label = charts.nth(index).get_attribute("aria-label")
        assert label and label.count(";") == 8  # nine weeks in words
    assert page.locator(".my-week-bar").count() == 45
    page_guard.check(page)
    page_guard.screenshot(f"my-week-{request.node.callspec.id}")
