"""Reports (issue 21, point 5): a chosen period (from, to, by day, week or month) and a belt or
rep, bad values refused by their field, and each target's "not met" opening exactly the
factories it counts."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from crm.extensions import db
from crm.models import MetricSnapshot
from crm.services.growth import stages
from tests import builders
from tests.web.helpers import sign_in
from tests.web.test_drill_down import listed
from tests.web.test_pipeline_exports import read_csv

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday, 10:00 in Shanghai


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other = builders.team(), builders.team()
    north, south = builders.belt(team), builders.belt(team)
    ann, bo = builders.user("rep", team_=team), builders.user("rep", team_=team)
    stranger = builders.user("rep", team_=other)
    october = date(2026, 10, 1)
    made = {}
    # Junior factories against "reply within 3 minutes" (at least 80): met, missed, no figure,
    # a figure too old to count, and a missed one of the other belt and rep.
    for name, belt, owner, value, month in (
        ("Met", north, ann, 85, october),
        ("Missed", north, ann, 70, october),
        ("No figure", north, bo, None, None),
        ("Too old", north, bo, 50, date(2025, 1, 1)),
        ("Missed south", south, bo, 60, october),
    ):
        factory = builders.factory(belt, owner=owner, stage="junior", name=name)
        stages.create_stage_tasks(factory, "junior", NOW)
        if value is not None:
            db.session.add(
                MetricSnapshot(
                    factory=factory, metric_code="response_3min_rate", month=month, value=value
                )
            )
        made[name] = factory
    builders.visit(made["Met"], ann, checked_in_at=NOW - timedelta(days=1))
    builders.visit(made["Met"], ann, checked_in_at=NOW - timedelta(days=9))
    builders.visit(made["Missed south"], bo, checked_in_at=NOW - timedelta(days=40))
    manager = builders.user("manager", leads=[team])
    db_session.commit()
    return {
        "manager": manager,
        "ann": ann,
        "bo": bo,
        "stranger": stranger,
        "north": north,
        "made": made,
    }


def not_met_links(text: str) -> dict[str, tuple[int, str]]:
    """Each target's "not met" link on the reports page: title -> (number, link)."""
    found = {}
    for item in re.findall(r'<li class="report-target">(.*?)</li>', text, re.S):
        title = re.search(r"</span>\s*([^<]+)</p>", item).group(1).strip()
        link = re.search(r'class="report-drill[^"]*" href="([^"]+)">[^<]*?(\d+)</a>', item)
        if link:
            found[html.unescape(title)] = (int(link.group(2)), link.group(1))
    return found


def test_each_not_met_opens_exactly_its_factories(client, world):
    sign_in(client, world["manager"].email)
    made = world["made"]
    for query, expected in (
        ("", {made["Missed"].id, made["Missed south"].id}),
        (f"?belt={world['north'].id}", {made["Missed"].id}),
        (f"?rep={world['bo'].id}", {made["Missed south"].id}),
    ):
        text = client.get("/pipeline/reports" + query).get_data(as_text=True)
        links = not_met_links(text)
        assert links, query
        response = next(value for title, value in links.items() if "3 minutes" in title)
        number, href = response
        assert listed(client, href) == expected, query
        assert number == len(expected)
        # Every "not met" on the page, whatever the target, opens as many as it says.
        for number, href in links.values():
            assert len(listed(client, href)) == number


def test_a_chosen_period_by_week_and_by_day(client, world):
    sign_in(client, world["manager"].email)
    text = client.get("/pipeline/reports?from=2026-11-02&to=2026-11-25&granularity=week")
    assert text.status_code == 200
    rows = read_csv(
        client.get(
            "/pipeline/reports/export?report=visits&format=csv"
            "&from=2026-11-02&to=2026-11-25&granularity=week"
        )
    )
    assert rows[0][2:-1] == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    ann = next(row for row in rows[1:] if row[1] == world["ann"].name)
    assert ann[2:] == ["0", "0", "1", "1", "2"]
    days = read_csv(
        client.get(
            "/pipeline/reports/export?report=stages&format=csv"
            "&from=2026-11-20&to=2026-11-25&granularity=day"
        )
    )
    assert [row[0] for row in days[1:]] == [f"2026-11-{day}" for day in range(20, 26)]
    # The bad south visit of October falls outside a period that starts in November.
    assert all(row[1] != world["bo"].name for row in rows[1:])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-40", "From: Send a date"),
        ("to=yesterday", "To: Send a date"),
        ("from=2026-11-25&to=2026-11-01", "From: The start comes after the end"),
        ("granularity=hour", "By: Choose days, weeks or months"),
        ("from=2020-01-01&granularity=day", "By: Too many bars"),
        ("to=2030-01-01", "To: Enter a date from"),
    ],
)
def test_a_bad_period_is_refused_by_its_field(client, world, query, field):
    sign_in(client, world["manager"].email)
    for path in ("/pipeline/reports?", "/pipeline/reports/export?report=stages&"):
        response = client.get(path + query)
        assert response.status_code == 422, (path, query)
        assert field in html.unescape(response.get_data(as_text=True)), (path, query)


def test_a_rep_of_another_team_is_refused(client, world):
    sign_in(client, world["manager"].email)
    response = client.get(f"/pipeline/reports?rep={world['stranger'].id}")
    assert response.status_code == 422
    assert "Rep: Choose one of your reps" in html.unescape(response.get_data(as_text=True))


def test_conversion_follows_the_chosen_period(client, world):
    """The conversion and the belts' table count the quarters of the chosen period (before,
    always the last four, whatever the period)."""
    sign_in(client, world["manager"].email)
    for query, quarters in (
        ("from=2026-10-01&to=2026-11-25", {"2026 Q4"}),
        ("from=2026-02-01&to=2026-05-31&granularity=month", {"2026 Q1", "2026 Q2"}),
    ):
        rows = read_csv(
            client.get(f"/pipeline/reports/export?report=conversion&format=csv&{query}")
        )
        assert {row[1] for row in rows[1:]} == quarters, query
    page = client.get("/pipeline/reports?from=2026-02-01&to=2026-05-31").get_data(as_text=True)
    assert "2026 Q2" in page and "2026 Q4" not in page
