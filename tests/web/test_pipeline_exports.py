"""Exports of the pipeline's lists and reports: the rows match the page, scope holds, Chinese
text survives the round trip (UTF-8 with a byte-order mark), and formulas are neutralised."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from crm.extensions import db
from crm.services.growth import promotions, stages
from tests import builders
from tests.web.helpers import sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
RECENT = NOW - timedelta(days=1)
CHINESE = "永康市恒达五金制品有限公司"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team_a, team_b = builders.team(), builders.team()
    belt_a, belt_b = builders.belt(team_a), builders.belt(team_b)
    rep = builders.user("rep", team_=team_a)
    rep_b = builders.user("rep", team_=team_b)

    def make(belt, owner, name, **fields):
        fields.setdefault("last_visit_at", RECENT)
        return builders.factory(belt, owner=owner, name=name, **fields)

    factories = {
        "chinese": make(belt_a, rep, CHINESE, stage="junior", category="五金"),
        "formula": make(belt_a, rep, "=HYPERLINK(1)", stage="elementary"),
        "stale": make(belt_a, rep, "Stale Works", last_visit_at=NOW - timedelta(days=90)),
        "prospect": make(belt_a, None, "Prospect Co.", status="prospect"),
        "other_team": make(belt_b, rep_b, "Team B Factory"),
        "other_stale": make(belt_b, rep_b, "Team B Stale", last_visit_at=NOW - timedelta(days=90)),
    }
    builders.visit(factories["chinese"], rep, checked_in_at=NOW - timedelta(days=2), off_site=True)
    builders.visit(factories["stale"], rep, checked_in_at=NOW - timedelta(days=3))
    people = {
        "rep": rep,
        "manager": builders.user("manager", leads=[team_a]),
        "manager_b": builders.user("manager", leads=[team_b]),
        "admin": builders.user("admin"),
    }
    db_session.commit()
    return {**factories, **people, "belt_a": belt_a}


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM that spreadsheet programs look for
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def card_names(page: str) -> list[str]:
    return [
        html.unescape(name)
        for name in re.findall(r'class="board-card-name" href="[^"]+">([^<]+)</a>', page)
    ]


def test_board_export_rows_match_the_board_in_its_order(client, world):
    sign_in(client, world["manager"].email)
    page = client.get("/pipeline/board").get_data(as_text=True)
    rows = read_csv(client.get("/pipeline/board/export?format=csv"))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Column", "Id", "Factory", "Credit code"]
    assert [row[2].removeprefix("'") for row in body] == card_names(page)
    chinese = next(row for row in body if row[2] == CHINESE)
    assert chinese[0] == "Junior high" and chinese[header.index("Category")] == "五金"
    assert chinese[1] == str(world["chinese"].id)
    assert chinese[header.index("Off-site check-ins")] == "yes"
    assert next(row for row in body if row[2] == "'=HYPERLINK(1)")  # neutralised


def test_board_export_keeps_the_filters_and_the_scope(client, world):
    sign_in(client, world["manager"].email)
    rows = read_csv(client.get("/pipeline/board/export?format=csv&flag=stale"))
    assert [row[2] for row in rows[1:]] == ["Stale Works"]
    everything = read_csv(client.get("/pipeline/board/export?format=csv"))
    assert "Team B Factory" not in {row[2] for row in everything}


def test_the_manager_of_other_belts_exports_only_theirs(app, world):
    other = app.test_client()
    sign_in(other, world["manager_b"].email)
    names = {row[2] for row in read_csv(other.get("/pipeline/board/export?format=csv"))[1:]}
    assert names == {"Team B Factory", "Team B Stale"}


def test_a_rep_may_not_export(client, world):
    sign_in(client, world["rep"].email)
    assert client.get("/pipeline/board/export").status_code == 403
    assert client.get("/pipeline/stuck/export").status_code == 403


def test_stuck_export_matches_the_stuck_list(client, world):
    sign_in(client, world["manager"].email)
    page = html.unescape(client.get("/pipeline/stuck?kind=stale").get_data(as_text=True))
    shown = re.findall(r'class="stuck-name" href="[^"]+">([^<]+)</a>', page)
    rows = read_csv(client.get("/pipeline/stuck/export?format=csv&kind=stale"))
    assert [row[2] for row in rows[1:]] == shown == ["Stale Works"]
    assert rows[1][0] == "Stale" and rows[1][rows[0].index("Days")] == "90"


def test_team_export_matches_the_team_page(client, world):
    sign_in(client, world["manager"].email)
    query = "?start=2026-11-01&end=2026-11-25"
    page = client.get("/pipeline/team" + query).get_data(as_text=True)
    rows = read_csv(client.get("/pipeline/team/export?format=csv&" + query[1:]))
    header, body = rows[0], rows[1:]
    assert [row[1] for row in body] == [world["rep"].name]
    assert world["rep"].name in page
    row = dict(zip(header, body[0], strict=True))
    assert row["Visits"] == "2" and row["Off-site check-ins"] == "1"
    assert row["Off-site share (%)"] == "50"
    assert row["Factories owned"] == "3"


def test_requests_export_lists_the_queue_with_its_eligibility(client, world):
    factory = world["chinese"]
    stages.create_stage_tasks(factory, "junior", NOW)
    promotions.request_change(world["rep"], factory, "paused", None, "工厂放假", NOW)
    db.session.commit()
    sign_in(client, world["manager"].email)
    rows = read_csv(client.get("/pipeline/requests/export?format=csv"))
    assert rows[1][2] == CHINESE and rows[1][5] == "Paused" and rows[1][8] == "工厂放假"


@pytest.mark.parametrize("report", ["stages", "conversion", "belts", "visits", "targets"])
def test_every_report_exports_as_csv(client, world, report):
    sign_in(client, world["manager"].email)
    rows = read_csv(client.get(f"/pipeline/reports/export?format=csv&report={report}"))
    assert rows[0]


def test_the_stages_report_export_counts_the_factories_of_scope(client, world):
    sign_in(client, world["manager"].email)
    rows = read_csv(client.get("/pipeline/reports/export?format=csv&report=stages"))
    header, last = rows[0], rows[-1]
    assert last[0] == "2026-11"
    counts = dict(zip(header[1:], map(int, last[1:]), strict=True))
    assert counts == {
        "Prospect": 1,
        "Elementary": 2,
        "Junior high": 1,
        "High school": 0,
        "University": 0,
        "Paused": 0,
    }


def test_an_unknown_report_is_refused(client, world):
    sign_in(client, world["manager"].email)
    assert client.get("/pipeline/reports/export?report=secrets").status_code == 422


def test_xlsx_is_offered_too(client, world):
    sign_in(client, world["manager"].email)
    response = client.get("/pipeline/board/export?format=xlsx")
    assert response.status_code == 200
    assert response.get_data()[:2] == b"PK"  # a zip, as xlsx files are


def test_every_pipeline_page_renders_for_a_manager_and_an_admin(app, world):
    for person in ("manager", "admin"):
        client = app.test_client()
        sign_in(client, world[person].email)
        for path in (
            "/pipeline/",
            "/pipeline/board",
            "/pipeline/requests",
            "/pipeline/stuck",
            "/pipeline/stuck?kind=overdue",
            "/pipeline/stuck?kind=long",
            "/pipeline/stuck?kind=eligible",
            "/pipeline/team",
            "/pipeline/reports",
            "/pipeline/reassign",
        ):
            response = client.get(path)
            assert response.status_code == 200, (person, path)


def test_the_reports_page_of_a_manager_whose_belts_hold_no_factory_yet(app, db_session):
    # A new team's manager: every count is zero, so the trend chart has no scale (it divided
    # by zero and answered 500).
    team = builders.team()
    belt = builders.belt(team)
    manager = builders.user("manager", leads=[team])
    db_session.commit()
    client = app.test_client()
    sign_in(client, manager.email)
    for path in ("/pipeline/reports", f"/pipeline/reports?belt={belt.id}"):
        response = client.get(path)
        assert response.status_code == 200, path
