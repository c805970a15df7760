"""From every number to its factories (issue 21, point 5): each count on the overview, the board,
the stuck page and the team page opens the factory list narrowed to exactly the factories it
counts, through the list's own URL filters; the team page opens each rep's week and portfolio."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import time_machine

from tests import builders
from tests.web.helpers import sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
RECENT = NOW - timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    """Two belts of team A (two reps), one of team B: factories in every column, stale,
    overdue, eligible, long in stage, key accounts and categories, one without a credit code."""
    team_a, team_b = builders.team(), builders.team()
    north, south, other = builders.belt(team_a), builders.belt(team_a), builders.belt(team_b)
    ann = builders.user("rep", team_=team_a)
    bo = builders.user("rep", team_=team_a)
    rep_b = builders.user("rep", team_=team_b)
    old = NOW - timedelta(days=400)

    def make(belt, owner, **fields):
        fields.setdefault("last_visit_at", RECENT)
        kept = ("stage_entered_at", "credit_code")
        fixed = {name: fields.pop(name) for name in kept if name in fields}
        made = builders.factory(belt, owner=owner, **fields)
        for name, value in fixed.items():
            setattr(made, name, value)
        return made

    made = [
        make(north, ann, stage="elementary"),
        make(north, ann, stage="elementary", last_visit_at=NOW - timedelta(days=90)),
        make(north, ann, stage="junior", next_follow_up_at=NOW - timedelta(days=2)),
        make(north, bo, stage="junior", eligible_since=NOW - timedelta(days=5)),
        make(north, bo, stage="senior", stage_entered_at=old, is_key_account=True),
        make(north, None, status="prospect", category="Hardware"),
        make(north, ann, status="prospect", category="Hardware"),
        make(south, bo, stage="elementary", credit_code=None, category="Hardware"),
        make(south, bo, status="paused", stage="junior"),
        make(south, ann, status="churned", stage="senior"),
        make(south, ann, stage="university", next_follow_up_at=NOW - timedelta(days=1)),
        make(other, rep_b, stage="elementary"),
        make(other, rep_b, stage="junior", last_visit_at=NOW - timedelta(days=90)),
    ]
    builders.visit(made[0], ann, checked_in_at=NOW - timedelta(days=2), off_site=True)
    builders.visit(made[0], ann, checked_in_at=NOW - timedelta(days=3))
    builders.visit(made[2], ann, checked_in_at=NOW - timedelta(days=4))
    manager = builders.user("manager", leads=[team_a])
    db_session.commit()
    return {
        "manager": manager,
        "ann": ann,
        "bo": bo,
        "rep_b": rep_b,
        "north": north,
        "made": made,
    }


def listed(client, href: str) -> set[int]:
    """The factory ids the factory list shows at this link (every page of it)."""
    ids: set[int] = set()
    url = html.unescape(href)
    while url:
        page = client.get(url)
        assert page.status_code == 200, url
        text = page.get_data(as_text=True)
        found = re.findall(r'class="fl-name" href="/factories/(\d+)"', text)
        ids |= {int(factory_id) for factory_id in found}
        after = re.search(r'rel="next" href="([^"]+)"', text)
        url = html.unescape(after.group(1)) if after else ""
    return ids


def links_to_list(text: str) -> list[tuple[int, str]]:
    """Each (number, link) on a page where a number links to the factory list."""
    found = re.findall(
        r'<a [^>]*href="(/factories/\?[^"]*)"[^>]*>\s*(?:<span[^>]*>)?([^<]*?)\s*(?:</span>)?</a>',
        text,
    )
    result = []
    for href, label in found:
        number = re.search(r"(\d+)\s*$", label)
        if number:
            result.append((int(number.group(1)), href))
    return result


def check_every_count(client, page: str, at_least: int) -> None:
    text = client.get(page).get_data(as_text=True)
    counts = links_to_list(text)
    assert len(counts) >= at_least, counts
    for number, href in counts:
        assert len(listed(client, href)) == number, (page, href)


def test_the_overview_counts_open_exactly_their_factories(client, world):
    sign_in(client, world["manager"].email)
    text = client.get("/pipeline/").get_data(as_text=True)
    counts = links_to_list(text)
    # Totals per column, each belt's columns and its total: all of them are links.
    assert len(counts) >= 7 + 2 * 8
    for number, href in counts:
        assert len(listed(client, href)) == number, href
    # The north belt's elementary column: exactly the two active elementary factories there.
    made = world["made"]
    query = f"/factories/?belt={world['north'].id}&column=elementary"
    assert listed(client, query) == {made[0].id, made[1].id}


def test_the_board_counts_open_exactly_their_factories(client, world):
    sign_in(client, world["manager"].email)
    for filters in ("", "?flag=stale", f"?rep={world['ann'].id}", "?category=Hardware&key=no"):
        check_every_count(client, f"/pipeline/board{filters}", 1)


def test_the_stuck_counts_open_exactly_their_factories(client, world):
    sign_in(client, world["manager"].email)
    made = world["made"]
    for kind, expected in (
        ("stale", {made[1].id}),
        ("overdue", {made[2].id, made[10].id}),
        ("eligible", {made[3].id}),
        ("long", {made[4].id}),
    ):
        text = client.get(f"/pipeline/stuck?kind={kind}").get_data(as_text=True)
        link = re.search(r'class="stuck-drill[^"]*" href="([^"]+)"', text)
        assert link, kind
        assert listed(client, link.group(1)) == expected, kind
    # Under the page's filters too: one rep's overdue factories.
    ann = world["ann"].id
    text = client.get(f"/pipeline/stuck?kind=overdue&rep={ann}").get_data(as_text=True)
    link = re.search(r'class="stuck-drill[^"]*" href="([^"]+)"', text)
    assert listed(client, link.group(1)) == {made[2].id, made[10].id}
    text = client.get(f"/pipeline/stuck?kind=stale&belt={world['north'].id}").get_data(as_text=True)
    link = re.search(r'class="stuck-drill[^"]*" href="([^"]+)"', text)
    assert listed(client, link.group(1)) == {made[1].id}


def test_the_team_counts_open_exactly_their_factories(client, world):
    sign_in(client, world["manager"].email)
    text = client.get("/pipeline/team").get_data(as_text=True)
    counts = links_to_list(text)
    assert len(counts) >= 6
    for number, href in counts:
        assert len(listed(client, href)) == number, href
    made = world["made"]
    assert listed(client, f"/factories/?owner={world['ann'].id}&flag=overdue") == {
        made[2].id,
        made[10].id,
    }


def test_a_drill_down_link_is_the_list_s_own_shareable_filters(client, world):
    sign_in(client, world["manager"].email)
    text = client.get("/pipeline/").get_data(as_text=True)
    _number, href = links_to_list(text)[0]
    split = urlsplit(html.unescape(href))
    assert split.path == "/factories/"
    assert dict(parse_qsl(split.query)) == {"column": "prospect"}
    page = client.get(html.unescape(href)).get_data(as_text=True)
    # The filter stays on the page's form (kept by the next search) and is shown in words.
    assert 'type="hidden" name="column" value="prospect"' in page
    assert "fl-chips" in page


def test_a_drill_value_that_names_nothing_matches_nothing(client, world):
    sign_in(client, world["manager"].email)
    for query in ("column=bogus", "belt=abc", "stuck=nope", "key=maybe"):
        assert listed(client, f"/factories/?{query}") == set(), query


def test_the_team_page_links_each_rep_to_their_week(client, world):
    sign_in(client, world["manager"].email)
    text = client.get("/pipeline/team").get_data(as_text=True)
    assert f'href="/pipeline/team/{world["ann"].id}"' in text
    page = client.get(f"/pipeline/team/{world['ann'].id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    # The rep's own week (the same figures as My week) and their portfolio.
    assert 'id="figure-visits"' in body
    assert 'id="portfolio"' in body
    # Spoken about the rep, not to the manager reading it.
    assert "Visits they logged." in body and "you logged" not in body
    made = world["made"]
    owned = [made[i] for i in (0, 1, 2, 6, 10)]
    for factory in owned:
        assert f'href="/factories/{factory.id}"' in body
    assert f'href="/factories/{made[9].id}"' not in body  # churned: left out, as on the team page
    assert f'href="/factories/{made[3].id}"' not in body  # Bo's
    # Visits per factory and the share on site: two visits to the first, one of them off site.
    row = re.search(rf'href="/factories/{made[0].id}">[^<]+</a></th>(.*?)</tr>', body, re.S)
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert cells == ["2", "50%"]


def test_another_team_s_rep_is_not_found(client, world):
    sign_in(client, world["manager"].email)
    assert client.get(f"/pipeline/team/{world['rep_b'].id}").status_code == 404
    assert client.get(f"/pipeline/team/{world['manager'].id}").status_code == 404


def test_a_bad_date_on_the_team_page_is_refused_by_its_field(client, world):
    sign_in(client, world["manager"].email)
    page = client.get("/pipeline/team?start=2026-13-40")
    assert page.status_code == 422
    assert "From: Not a valid date value." in html.unescape(page.get_data(as_text=True))
    assert client.get(f"/pipeline/team/{world['ann'].id}?end=nope").status_code == 422
