"""Export what you see (issue 21, point 6): each list's export holds exactly the rows the list
shows under its filters (three combinations per list), as xlsx (the default) and as CSV, with
the ids of its rows; nothing is left out (a factory without a credit code is exported)."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from openpyxl import load_workbook

from crm.extensions import db
from crm.services.growth import promotions
from tests import builders
from tests.web import test_drill_down as drill
from tests.web.helpers import sign_in
from tests.web.test_drill_down import NOW, listed

# The drill-down tests' fixture: two belts of a team, every column, every flag.
world = drill.world
frozen_clock = drill.frozen_clock

FORMATS = ("xlsx", "csv")


def exported(client, url: str, file_format: str) -> list[list[str]]:
    """The rows of an export (its header first), every cell as text."""
    separator = "&" if "?" in url else "?"
    if file_format == "csv":
        response = client.get(f"{url}{separator}format=csv")
        assert response.status_code == 200 and response.mimetype == "text/csv", url
        text = response.get_data().decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text)))
    response = client.get(url)  # xlsx is the default
    assert response.status_code == 200, url
    assert response.get_data()[:2] == b"PK"
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    return [
        ["" if cell is None else str(cell) for cell in row]
        for row in sheet.iter_rows(values_only=True)
    ]


def ids_in(rows: list[list[str]], column: str) -> list[int]:
    index = rows[0].index(column)
    return [int(row[index]) for row in rows[1:]]


def page_ids(client, url: str, pattern: str) -> list[int]:
    text = client.get(url).get_data(as_text=True)
    return [int(found) for found in re.findall(pattern, text)]


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?flag=stale&stage=elementary",
        "?column=prospect&category=Hardware",
        "?q=Factory&owner=X",
    ],
)
def test_the_factory_export_holds_the_list_s_rows(client, world, query, file_format):
    sign_in(client, world["manager"].email)
    query = query.replace("owner=X", f"owner={world['bo'].id}")
    rows = exported(client, f"/factories/export{query}", file_format)
    shown = listed(client, f"/factories/{query}")
    assert sorted(ids_in(rows, "Id")) == sorted(shown)
    header = rows[0]
    for column in ("Id", "Factory", "Belt id", "Stage", "Rep id", "Rep", "Last visit"):
        assert column in header


def test_the_factory_export_leaves_out_no_factory_without_a_credit_code(client, world):
    sign_in(client, world["manager"].email)
    missing = world["made"][7]
    assert missing.credit_code is None
    rows = exported(client, "/factories/export", "csv")
    assert missing.id in ids_in(rows, "Id")
    # The whole scope: the manager's eleven factories, none of the other team's.
    assert len(rows) - 1 == 11


def test_the_factory_list_page_links_its_export_with_its_filters(client, world):
    sign_in(client, world["manager"].email)
    text = client.get("/factories/?flag=stale&belt=7").get_data(as_text=True)
    links = [html.unescape(link) for link in re.findall(r'href="(/factories/export[^"]*)"', text)]
    assert any("flag=stale" in link and "belt=7" in link and "format=csv" in link for link in links)
    assert any("flag=stale" in link and "format" not in link for link in links)


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("query", ["", "?flag=stale", "?rep=ANN&key=no"])
def test_the_board_export_holds_the_board_s_cards(client, world, query, file_format):
    sign_in(client, world["manager"].email)
    query = query.replace("ANN", str(world["ann"].id))
    rows = exported(client, f"/pipeline/board/export{query}", file_format)
    # Every card the board counts (the page draws the first of each column): the factory
    # lists its columns' counts open, together.
    text = client.get(f"/pipeline/board{query}").get_data(as_text=True)
    counted: set[int] = set()
    for link in re.findall(r'class="board-count-link[^"]*" href="([^"]+)"', text):
        counted |= listed(client, link)
    assert sorted(ids_in(rows, "Id")) == sorted(counted)
    drawn = re.findall(r'class="board-card-name" href="/factories/(\d+)"', text)
    assert {int(found) for found in drawn} <= counted


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("query", ["?kind=stale", "?kind=overdue&rep=ANN", "?kind=long&belt=NORTH"])
def test_the_stuck_export_holds_the_stuck_list(client, world, query, file_format):
    sign_in(client, world["manager"].email)
    query = query.replace("ANN", str(world["ann"].id)).replace("NORTH", str(world["north"].id))
    rows = exported(client, f"/pipeline/stuck/export{query}", file_format)
    shown = page_ids(
        client, f"/pipeline/stuck{query}", r'class="stuck-name" href="/factories/(\d+)"'
    )
    assert ids_in(rows, "Id") == shown
    assert shown


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?start=2026-11-20&end=2026-11-25&sort=name&order=asc",
        "?start=2026-01-01&end=2026-02-01",
    ],
)
def test_the_team_export_holds_the_team_s_rows(client, world, query, file_format):
    sign_in(client, world["manager"].email)
    rows = exported(client, f"/pipeline/team/export{query}", file_format)
    shown = page_ids(
        client, f"/pipeline/team{query}", r'<th scope="row"><a [^>]*href="/pipeline/team/(\d+)"'
    )
    assert ids_in(rows, "Rep id") == shown
    visits = rows[0].index("Visits")
    by_id = {int(row[0]): row[visits] for row in rows[1:]}
    expected = "3" if query in ("", "?start=2026-11-20&end=2026-11-25&sort=name&order=asc") else "0"
    assert by_id[world["ann"].id] == expected


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize(
    "query",
    ["", "&granularity=week&from=2026-11-02", "&rep=ANN&granularity=day&from=2026-11-15"],
)
def test_the_visits_report_export_holds_the_page_s_reps(client, world, query, file_format):
    sign_in(client, world["manager"].email)
    query = query.replace("ANN", str(world["ann"].id))
    rows = exported(client, f"/pipeline/reports/export?report=visits{query}", file_format)
    text = client.get(f"/pipeline/reports?{query[1:]}").get_data(as_text=True)
    shown = [html.unescape(name) for name in re.findall(r'class="report-rep-name">([^<]+)<', text)]
    assert [row[1] for row in rows[1:]] == shown
    assert ids_in(rows, "Rep id") == ([world["ann"].id] if shown else [])


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("query", ["", "?record_type=stage_change", "?action=created"])
def test_the_audit_export_holds_the_log_s_entries(app, world, query, file_format):
    admin = builders.user("admin")
    factory = world["made"][0]
    promotions.request_change(world["ann"], factory, "paused", None, "holiday", NOW)
    db.session.commit()
    client = app.test_client()
    sign_in(client, admin.email)
    rows = exported(client, f"/admin/audit/export{query}", file_format)
    shown = page_ids(client, f"/admin/audit{query}", r'data-entry-id="(\d+)"')
    assert shown or query == "?action=created"
    assert sorted(set(ids_in(rows, "id"))) == sorted(shown)


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize(
    ("query", "expected"), [("", (0, 3, 7)), ("?belt=NORTH", (0, 3)), ("?rep=BO", (3, 7))]
)
def test_the_promotions_queue_export_holds_the_queue(client, world, query, expected, file_format):
    made = world["made"]
    for index in (0, 3, 7):
        promotions.request_change(world["ann"], made[index], "paused", None, "holiday", NOW)
    db.session.commit()
    sign_in(client, world["manager"].email)
    query = query.replace("NORTH", str(world["north"].id)).replace("BO", str(world["bo"].id))
    rows = exported(client, f"/pipeline/requests/export{query}", file_format)
    assert sorted(ids_in(rows, "Factory id")) == sorted(made[index].id for index in expected)
    text = client.get(f"/pipeline/requests{query}").get_data(as_text=True)
    shown = {int(found) for found in re.findall(r'href="/factories/(\d+)"', text)}
    assert shown == {made[index].id for index in expected}


def test_a_bad_format_is_refused_by_its_field(client, world):
    sign_in(client, world["manager"].email)
    for url in ("/factories/export", "/pipeline/board/export", "/pipeline/team/export"):
        response = client.get(f"{url}?format=pdf")
        assert response.status_code == 422, url
        assert "Choose CSV or Excel." in response.get_data(as_text=True)
