"""The pipeline board: counts and filters against a data set with known answers, scope, the
columns' pages, the move dialog's rules, and a statement count that does not grow with the
number of factories."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import Engine

from crm.extensions import db
from crm.models import Factory, StageChange, Task
from crm.services.growth import stages
from crm.services.pipeline import team_report
from tests import builders
from tests.web.helpers import csrf_token, sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
RECENT = NOW - timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    """Two belts of team A (nine factories on the board, one churned), one belt of team B."""
    team_a, team_b = builders.team("Team A"), builders.team("Team B")
    belt_a, belt_a2 = builders.belt(team_a), builders.belt(team_a)
    belt_b = builders.belt(team_b)
    rep1 = builders.user("rep", team_=team_a)
    rep2 = builders.user("rep", team_=team_a)
    rep3 = builders.user("rep", team_=team_b)

    def make(belt, owner, name, status="active", stage="elementary", **fields):
        fields.setdefault("last_visit_at", RECENT)
        return builders.factory(belt, owner=owner, status=status, stage=stage, name=name, **fields)

    factories = {
        "prospect_unowned": make(belt_a, None, "Prospect Unowned", status="prospect"),
        "prospect_owned": make(belt_a, rep1, "Prospect Owned", status="prospect"),
        "elem_stale": make(
            belt_a, rep1, "Elem Stale", last_visit_at=NOW - timedelta(days=60), category="五金"
        ),
        "elem_key": make(belt_a, rep2, "Elem Key", is_key_account=True),
        "junior_overdue": make(
            belt_a, rep1, "Junior Overdue", stage="junior", next_follow_up_at=RECENT
        ),
        "senior_eligible": make(
            belt_a, rep2, "Senior Eligible", stage="senior", eligible_since=RECENT
        ),
        "university": make(belt_a, rep1, "University One", stage="university"),
        "paused": make(belt_a, rep1, "Paused One", status="paused"),
        "churned": make(belt_a, rep1, "Churned One", status="churned"),
        "junior_offsite": make(belt_a2, rep2, "Junior Offsite", stage="junior"),
        "b1": make(belt_b, rep3, "Team B First"),
        "b2": make(belt_b, rep3, "Team B Second"),
    }
    builders.visit(
        factories["junior_offsite"], rep2, checked_in_at=NOW - timedelta(days=10), off_site=True
    )
    people = {
        "rep1": rep1,
        "rep2": rep2,
        "rep3": rep3,
        "manager_a": builders.user("manager", leads=[team_a]),
        "manager_b": builders.user("manager", leads=[team_b]),
        "admin": builders.user("admin"),
    }
    db_session.commit()
    return {"belt_a": belt_a, "belt_a2": belt_a2, "belt_b": belt_b, **factories, **people}


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def column_counts(page: str) -> dict[str, int]:
    found = re.findall(
        r'<h2 class="board-column-title" id="board-title-(\w+)">[^<]*</h2>\s*'
        r'(?:<a class="board-count-link"[^>]*>)?<span class="board-count"[^>]*>(\d+)</span>',
        page,
    )
    return {code: int(count) for code, count in found}


def card_names(page: str) -> list[str]:
    return re.findall(r'class="board-card-name" href="[^"]+">([^<]+)</a>', page)


def board(client, **query) -> str:
    response = client.get("/pipeline/board", query_string=query)
    assert response.status_code == 200
    return text_of(response)


# --- counts, filters, scope -------------------------------------------------------------------


def test_the_manager_sees_the_columns_of_their_belts_with_counts(client, world):
    sign_in(client, world["manager_a"].email)
    page = board(client)
    assert column_counts(page) == {
        "prospect": 2,
        "elementary": 2,
        "junior": 2,
        "senior": 1,
        "university": 1,
        "paused": 1,
        "churned": 1,
    }
    names = card_names(page)
    assert not {"Team B First", "Team B Second"} & set(names)
    assert "10 factories" in page
    # Churned factories sit in their own column, folded until it is opened.
    churned = re.search(
        r'<details class="board-column board-column-churned[^"]*">(.*?)</details>', page, re.S
    )
    assert card_names(churned.group(1)) == ["Churned One"]
    assert "Churned One" not in page.replace(churned.group(0), "")


def test_another_team_s_manager_sees_only_theirs_and_an_admin_sees_all(app, world):
    other = app.test_client()
    sign_in(other, world["manager_b"].email)
    page = board(other)
    assert sorted(card_names(page)) == ["Team B First", "Team B Second"]
    admin = app.test_client()
    sign_in(admin, world["admin"].email)
    assert sum(column_counts(board(admin)).values()) == 12


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"flag": "stale"}, ["Elem Stale"]),
        ({"flag": "overdue"}, ["Junior Overdue"]),
        ({"flag": "eligible"}, ["Senior Eligible"]),
        ({"flag": "offsite"}, ["Junior Offsite"]),
        ({"key": "yes"}, ["Elem Key"]),
        ({"category": "五金"}, ["Elem Stale"]),
        ({"rep": "unowned"}, ["Prospect Unowned"]),
    ],
)
def test_each_filter_narrows_the_board_to_the_known_factories(client, world, query, expected):
    sign_in(client, world["manager_a"].email)
    assert sorted(card_names(board(client, **query))) == expected


def test_filters_by_belt_and_rep_are_kept_in_the_urls_of_the_page(client, world):
    sign_in(client, world["manager_a"].email)
    page = board(client, belt=world["belt_a"].id, rep=world["rep1"].id)
    assert sorted(card_names(page)) == [
        "Churned One",
        "Elem Stale",
        "Junior Overdue",
        "Paused One",
        "Prospect Owned",
        "University One",
    ]
    # The export and every card's move link carry the same filters.
    assert f"/pipeline/board/export?belt={world['belt_a'].id}&amp;rep={world['rep1'].id}" in (
        client.get(
            "/pipeline/board", query_string={"belt": world["belt_a"].id, "rep": world["rep1"].id}
        ).get_data(as_text=True)
    )
    move_link = re.search(r'class="board-move-button" href="([^"]+)"', page).group(1)
    assert f"belt={world['belt_a'].id}" in move_link


def test_a_rep_sees_their_own_factories_and_unowned_prospects_only(client, world):
    sign_in(client, world["rep1"].email)
    names = sorted(card_names(board(client)))
    assert names == [
        "Churned One",
        "Elem Stale",
        "Junior Overdue",
        "Paused One",
        "Prospect Owned",
        "Prospect Unowned",
        "University One",
    ]
    assert "Export CSV" not in board(client)


def test_cards_show_time_in_stage_progress_and_flags(client, world):
    factory = world["elem_stale"]
    stages.create_stage_tasks(factory, "elementary", NOW)
    first = db.session.scalars(
        select(Task).where(Task.factory_id == factory.id, Task.required.is_(True))
    ).first()
    first.status = "done"
    db.session.commit()
    sign_in(client, world["manager_a"].email)
    page = board(client)
    card = page[page.index("Elem Stale") : page.index("</li>", page.index("Elem Stale"))]
    assert "30 days in stage" in card
    assert "1 of 4 required done" in card
    assert "Stale" in card and "Overdue" not in card


# --- columns by the page -----------------------------------------------------------------------


def test_a_long_column_shows_ten_cards_and_more_loads_the_rest(client, world):
    for n in range(33):
        builders.factory(world["belt_a"], owner=world["rep2"], stage="senior", name=f"S{n:02d}")
    db.session.commit()
    sign_in(client, world["manager_a"].email)
    page = board(client)
    assert column_counts(page)["senior"] == 34  # every card counted, ten drawn
    senior = page[page.index('data-column="senior"') : page.index('data-column="university"')]
    assert len(card_names(senior)) == 10
    assert "Show 24 more" in senior
    # htmx asks for the cards after those shown; without script the link opens the column.
    more_link = re.search(
        r'<a class="button button-subtle board-more" href="([^"]+)" hx-get="([^"]+)"', senior
    )
    assert html.unescape(more_link.group(1)) == "/pipeline/board/more?column=senior&page=1"
    assert html.unescape(more_link.group(2)) == "/pipeline/board/more?column=senior&start=10"
    more = client.get(html.unescape(more_link.group(2)), headers={"HX-Request": "true"})
    fragment = text_of(more)
    assert more.status_code == 200 and "<html" not in fragment
    assert len(card_names(fragment)) == 24
    assert "board-more" not in fragment
    whole = text_of(client.get("/pipeline/board/more?column=senior&page=2"))
    assert "<html" in whole and "Page 2 of 2" in whole and len(card_names(whole)) == 4
    first = text_of(client.get(html.unescape(more_link.group(1))))
    assert "Page 1 of 2" in first and len(card_names(first)) == 30


def test_an_unknown_column_is_refused(client, world):
    sign_in(client, world["manager_a"].email)
    assert client.get("/pipeline/board/more?column=nowhere").status_code == 422


@pytest.mark.parametrize("start", ["abc", "-3", "１０", "99999999999999999999"])
def test_a_start_that_is_not_a_count_of_cards_gives_the_columns_first_cards(client, world, start):
    sign_in(client, world["manager_a"].email)
    response = client.get(
        "/pipeline/board/more",
        query_string={"column": "elementary", "start": start},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert sorted(card_names(text_of(response))) == ["Elem Key", "Elem Stale"]


# --- statements per page ---------------------------------------------------------------------


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(connection, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def bulk_factories(belt, owner, count: int, start: int) -> None:
    stages_cycle = ("elementary", "junior", "senior", "university")
    rows = [
        {
            "name": f"Bulk {start + n:05d}",
            "belt_id": belt.id,
            "owner_id": owner.id,
            "status": "active",
            "stage": stages_cycle[n % 4],
            "stage_entered_at": NOW - timedelta(days=n % 90),
            "last_visit_at": NOW - timedelta(days=n % 40),
            "next_follow_up_at": NOW + timedelta(days=(n % 9) - 4),
            "created_at": NOW - timedelta(days=200),
            "updated_at": NOW,
            "paused_days": 0,
            "is_key_account": False,
            "category": "",
            "address": "",
            "shop_url": "",
        }
        for n in range(count)
    ]
    db.session.execute(insert(Factory), rows)
    new = db.session.execute(
        select(Factory.id, Factory.stage).where(
            Factory.name >= f"Bulk {start:05d}", Factory.name.like("Bulk %")
        )
    ).all()
    tasks = [
        {
            "factory_id": factory_id,
            "stage": stage,
            "title_en": "Shop opened",
            "title_zh": "开店",
            "kind": "custom",
            "required": True,
            "status": "done" if factory_id % 2 else "open",
            "created_at": NOW,
            "updated_at": NOW,
        }
        for factory_id, stage in new
    ]
    db.session.execute(insert(Task), tasks)
    db.session.commit()


def test_the_board_costs_the_same_statements_for_50_and_500_factories(client, world):
    sign_in(client, world["manager_a"].email)
    bulk_factories(world["belt_a"], world["rep1"], 50, 0)
    client.get("/pipeline/board")  # the first request after a change loads what is kept
    with counted_statements() as small:
        assert client.get("/pipeline/board").status_code == 200
    bulk_factories(world["belt_a"], world["rep1"], 450, 50)
    total = db.session.scalar(select(func.count()).select_from(Factory))
    assert total >= 500
    with counted_statements() as large:
        page = client.get("/pipeline/board").get_data(as_text=True)
    assert "board-more" in page
    assert len(large) == len(small), (len(small), len(large))
    assert len(large) <= 22, "\n".join(s[:120] for s in large)


# --- the move dialog -----------------------------------------------------------------------------


def post_move(client, factory, to: str, query: str = "", **form):
    token = csrf_token(client, "/account/")
    return client.post(
        f"/pipeline/board/{factory.id}/move{query}", data={"csrf_token": token, "to": to, **form}
    )


def test_the_dialog_explains_a_promotion_that_needs_an_override(client, world):
    factory = world["elem_key"]
    stages.create_stage_tasks(factory, "elementary", NOW)
    db.session.commit()
    sign_in(client, world["manager_a"].email)
    response = client.get(
        f"/pipeline/board/{factory.id}/move?to=junior", headers={"HX-Request": "true"}
    )
    page = text_of(response)
    assert response.status_code == 200 and "<html" not in page
    assert "Promotion by one stage." in page
    assert "Not eligible yet: 4 of 4 required items left:" in page
    assert "Override: I make this move although it does not qualify" in page
    assert "Reason (needed for an override)" in page


def test_a_manager_moves_only_with_the_override_ticked_and_a_reason(client, world, db_session):
    factory = world["elem_key"]
    stages.create_stage_tasks(factory, "elementary", NOW)  # four required items open
    db_session.commit()
    sign_in(client, world["manager_a"].email)
    refused = post_move(client, factory, "junior", reason="Ready in practice")
    assert refused.status_code == 422
    assert "tick override and give the reason" in text_of(refused)
    no_reason = post_move(client, factory, "junior", override="y")
    assert no_reason.status_code == 422 and "An override needs a reason." in text_of(no_reason)
    db_session.refresh(factory)
    assert factory.stage == "elementary"
    moved = post_move(
        client, factory, "junior", query=f"?belt={world['belt_a'].id}", override="y", reason="Ok"
    )
    assert moved.status_code == 303
    assert moved.headers["Location"] == f"/pipeline/board?belt={world['belt_a'].id}"
    db_session.refresh(factory)
    assert factory.stage == "junior"
    change = db_session.scalar(select(StageChange).where(StageChange.factory_id == factory.id))
    assert change.is_override and change.decision == "direct" and change.reason == "Ok"


def test_a_demotion_needs_a_reason_even_from_a_manager(client, world, db_session):
    factory = world["junior_overdue"]
    sign_in(client, world["manager_a"].email)
    page = text_of(client.get(f"/pipeline/board/{factory.id}/move?to=elementary"))
    assert "This moves the factory down: an override" in page
    assert post_move(client, factory, "elementary", override="y").status_code == 422
    db_session.refresh(factory)
    assert factory.stage == "junior"


def test_a_move_in_the_dialog_answers_with_the_card_in_its_new_place(client, world, db_session):
    factory = world["elem_key"]
    sign_in(client, world["manager_a"].email)
    token = csrf_token(client, "/account/")
    response = client.post(
        f"/pipeline/board/{factory.id}/move",
        data={"csrf_token": token, "to": "paused"},
        headers={"HX-Request": "true"},
    )
    # No redirect: the answer is swapped into the board as it stands, its scroll kept.
    assert response.status_code == 200 and "HX-Redirect" not in response.headers
    page = text_of(response)
    assert "<html" not in page and "data-board-moved" in page
    assert f'<li id="board-card-{factory.id}" hx-swap-oob="delete">' in page
    inserted = re.search(r'<ol hx-swap-oob="afterbegin:#board-cards-paused">(.*?)</ol>', page, re.S)
    assert card_names(inserted.group(1)) == ["Elem Key"]
    assert "board-card-moved" in inserted.group(1)
    counts = dict(re.findall(r'id="board-count-(\w+)" hx-swap-oob="true"[^>]*>(\d+)<', page))
    assert counts["elementary"] == "1" and counts["paused"] == "2"
    assert "Elem Key is Paused now." in page and 'id="board-status"' in page
    assert "10 factories" in page
    db_session.refresh(factory)
    assert factory.status == "paused" and factory.stage == "elementary"


def test_a_rep_s_request_redraws_its_card_in_place_with_the_request(client, world):
    factory = world["junior_overdue"]
    sign_in(client, world["rep1"].email)
    token = csrf_token(client, "/account/")
    response = client.post(
        f"/pipeline/board/{factory.id}/move",
        data={"csrf_token": token, "to": "paused", "reason": "Closed for the holiday"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    page = text_of(response)
    card = re.search(
        rf'<li class="board-card[^"]*" id="board-card-{factory.id}" hx-swap-oob="true">', page
    )
    assert card is not None and "afterbegin" not in page
    assert "Request waiting: to Paused" in page
    # The board drawn again shows the request on the card too.
    board_page = board(client)
    drawn = board_page[board_page.index(f'id="board-card-{factory.id}"') :]
    assert "Request waiting: to Paused" in drawn[: drawn.index("</li>")]


def test_without_script_a_move_still_redirects_to_the_board(client, world, db_session):
    factory = world["elem_key"]
    sign_in(client, world["manager_a"].email)
    response = post_move(client, factory, "paused", query=f"?belt={world['belt_a'].id}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/pipeline/board?belt={world['belt_a'].id}"
    assert "Elem Key is Paused now." in text_of(client.get(response.headers["Location"]))


def test_a_rep_only_requests_and_cannot_override(client, world, db_session):
    factory = world["elem_stale"]
    stages.create_stage_tasks(factory, "elementary", NOW)
    for task in db.session.scalars(select(Task).where(Task.factory_id == factory.id)):
        task.status = "done"
    db.session.commit()
    sign_in(client, world["rep1"].email)
    page = text_of(client.get(f"/pipeline/board/{factory.id}/move?to=junior"))
    assert "Send request" in page and "Override:" not in page
    assert "Note for the manager (optional)" in page
    response = post_move(client, factory, "junior", reason="All done")
    assert response.status_code == 303
    db_session.refresh(factory)
    assert factory.stage == "elementary"
    change = db_session.scalar(select(StageChange).where(StageChange.factory_id == factory.id))
    assert change.decision == "pending" and change.to_stage == "junior"
    # A pending request blocks another move, and the dialog says so.
    again = text_of(client.get(f"/pipeline/board/{factory.id}/move?to=paused"))
    assert "already waits for a decision" in again and "Send request" not in again
    # A demotion is a manager's override: the rep is told, and a post is refused.
    demote = text_of(client.get(f"/pipeline/board/{world['junior_overdue'].id}/move?to=elementary"))
    assert (
        "only a manager or admin can make it" in demote
        and "<form" not in demote.split("board-move")[-1]
    )
    assert post_move(client, world["junior_overdue"], "elementary", override="y").status_code == 422


def test_the_move_button_asks_where_to(client, world):
    sign_in(client, world["manager_a"].email)
    page = text_of(
        client.get(f"/pipeline/board/{world['junior_overdue'].id}/move?belt={world['belt_a'].id}")
    )
    assert "Move it to:" in page
    links = re.findall(r'href="(/pipeline/board/\d+/move\?[^"]+)"', page)
    assert all(f"belt={world['belt_a'].id}" in link for link in links)  # the filters go along
    targets = [re.search(r"to=(\w+)", link).group(1) for link in links]
    assert targets == ["elementary", "senior", "university", "paused", "churned"]


def test_a_factory_never_moves_back_to_prospect(client, world):
    sign_in(client, world["manager_a"].email)
    page = text_of(client.get(f"/pipeline/board/{world['elem_key'].id}/move?to=prospect"))
    assert "never goes back to being a prospect" in page
    assert post_move(client, world["elem_key"], "prospect").status_code == 422


def test_the_move_of_a_factory_out_of_scope_is_404(app, world):
    other = app.test_client()
    sign_in(other, world["manager_b"].email)
    assert other.get(f"/pipeline/board/{world['elem_key'].id}/move?to=junior").status_code == 404
    assert post_move(other, world["elem_key"], "junior").status_code == 404
    rep = app.test_client()
    sign_in(rep, world["rep2"].email)
    assert rep.get(f"/pipeline/board/{world['elem_stale'].id}/move?to=junior").status_code == 404


# --- stuck factories: one-click actions ---------------------------------------------------------


def test_stuck_lists_with_their_counts_and_a_one_click_visit(client, world, db_session):
    sign_in(client, world["manager_a"].email)
    page = text_of(client.get("/pipeline/stuck?kind=stale"))
    assert "Elem Stale" in page and "60 days" in page and "without a visit" in page
    token = csrf_token(client, "/account/")
    response = client.post(
        f"/pipeline/factories/{world['elem_stale'].id}/schedule",
        data={"csrf_token": token, "days": "3", "next": "/pipeline/stuck?kind=stale"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/pipeline/stuck?kind=stale"
    db_session.refresh(world["elem_stale"])
    # In 3 days is Saturday 28 November, no working day: Monday 30 November at 10:00 in
    # Shanghai, for the factory's rep.
    assert world["elem_stale"].next_follow_up_at == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    after = text_of(client.get("/pipeline/stuck?kind=stale"))
    assert f"Visit planned for Elem Stale on 2026-11-30, for {world['rep1'].name}." in after


def test_a_visit_for_a_factory_without_a_rep_is_the_manager_s_own(client, world):
    sign_in(client, world["manager_a"].email)
    token = csrf_token(client, "/account/")
    response = client.post(
        f"/pipeline/factories/{world['prospect_unowned'].id}/schedule",
        data={"csrf_token": token, "days": "1"},
    )
    assert response.status_code == 303
    page = text_of(client.get(response.headers["Location"]))
    assert (
        f"Visit planned for Prospect Unowned on 2026-11-26, for {world['manager_a'].name}." in page
    )


def test_one_click_reassign_from_the_stuck_list(client, world, db_session):
    sign_in(client, world["manager_a"].email)
    token = csrf_token(client, "/account/")
    response = client.post(
        f"/pipeline/factories/{world['elem_stale'].id}/reassign",
        data={
            "csrf_token": token,
            "to_rep": world["rep2"].id,
            "next": "https://evil.example/",
            "confirmed": "yes",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/pipeline/stuck"  # never back to another site
    db_session.refresh(world["elem_stale"])
    assert world["elem_stale"].owner_id == world["rep2"].id
    # A rep of another team is refused, and nothing changes.
    token = csrf_token(client, "/account/")
    client.post(
        f"/pipeline/factories/{world['elem_stale'].id}/reassign",
        data={"csrf_token": token, "to_rep": world["rep3"].id, "confirmed": "yes"},
    )
    db_session.refresh(world["elem_stale"])
    assert world["elem_stale"].owner_id == world["rep2"].id


# --- reassign and bulk edit --------------------------------------------------------------------


def test_bulk_reassign_and_key_account_from_the_reassign_page(client, world, db_session):
    sign_in(client, world["manager_a"].email)
    page = text_of(client.get(f"/pipeline/reassign?rep={world['rep1'].id}"))
    assert "Elem Stale" in page and "Elem Key" not in page
    ticked = [world["elem_stale"].id, world["university"].id, world["b1"].id]  # b1: not theirs
    token = csrf_token(client, "/account/")
    response = client.post(
        "/pipeline/reassign",
        data={
            "csrf_token": token,
            "action": "reassign",
            "to_rep": world["rep2"].id,
            "factory_ids": ticked,
        },
    )
    assert response.status_code == 303
    for name in ("elem_stale", "university", "b1"):
        db_session.refresh(world[name])
    assert world["elem_stale"].owner_id == world["university"].owner_id == world["rep2"].id
    assert world["b1"].owner_id == world["rep3"].id
    token = csrf_token(client, "/account/")
    client.post(
        "/pipeline/reassign",
        data={"csrf_token": token, "action": "key_on", "factory_ids": [world["paused"].id]},
    )
    db_session.refresh(world["paused"])
    assert world["paused"].is_key_account


def test_bulk_edit_without_ticks_or_rep_is_refused(client, world):
    sign_in(client, world["manager_a"].email)
    token = csrf_token(client, "/account/")
    nothing = client.post("/pipeline/reassign", data={"csrf_token": token, "action": "reassign"})
    assert nothing.status_code == 422 and "Tick the factories first." in text_of(nothing)
    no_rep = client.post(
        "/pipeline/reassign",
        data={"csrf_token": token, "action": "reassign", "factory_ids": [world["paused"].id]},
    )
    assert no_rep.status_code == 422 and "Choose a rep of your teams." in text_of(no_rep)


def test_hand_over_a_leaving_rep_s_work(client, world, db_session):
    sign_in(client, world["manager_a"].email)
    token = csrf_token(client, "/account/")
    response = client.post(
        "/pipeline/reassign/hand-over",
        data={"csrf_token": token, "from_rep": world["rep1"].id, "to_rep": world["rep2"].id},
    )
    assert response.status_code == 303
    left = db_session.scalar(
        select(func.count()).select_from(Factory).where(Factory.owner_id == world["rep1"].id)
    )
    assert left == 0
    assert "Rep" in text_of(client.get("/pipeline/reassign"))


# --- the team page -------------------------------------------------------------------------------


def test_the_team_page_sorts_by_any_column(client, world):
    builders.visit(world["elem_key"], world["rep2"], checked_in_at=NOW - timedelta(days=2))
    db.session.commit()
    sign_in(client, world["manager_a"].email)
    by_visits = text_of(client.get("/pipeline/team?sort=visits&order=desc"))
    rows = re.findall(r'<th scope="row"><a [^>]*>([^<]+?)</a>', by_visits)
    assert rows[:2] == [world["rep2"].name, world["rep1"].name]
    by_name = text_of(client.get("/pipeline/team?sort=name&order=asc"))
    rows = re.findall(r'<th scope="row"><a [^>]*>([^<]+?)</a>', by_name)
    assert rows[:2] == sorted([world["rep1"].name, world["rep2"].name])
    assert 'aria-sort="ascending"' in by_name
    assert world["rep3"].name not in by_name  # another team's rep


def test_the_team_page_draws_a_page_of_reps_and_totals_and_exports_them_all(
    client, world, monkeypatch
):
    """An admin's install holds about a thousand reps: a page draws PAGE_SIZE of them in the
    order asked for and the next page the rest, while the totals row counts every rep and the
    export holds every rep, whichever page it is asked from."""
    builders.visit(world["elem_key"], world["rep2"], checked_in_at=NOW - timedelta(days=2))
    db.session.commit()
    sign_in(client, world["manager_a"].email)

    def drawn(page: str) -> list[str]:
        return re.findall(r'<th scope="row"><a [^>]*>([^<]+?)</a>', page)

    def totals(page: str) -> str:
        return re.search(r"<tfoot>.*?</tfoot>", page, re.S).group(0)

    whole = text_of(client.get("/pipeline/team?sort=visits&order=desc"))
    assert drawn(whole) == [world["rep2"].name, world["rep1"].name]
    assert 'rel="next"' not in whole
    monkeypatch.setattr(team_report, "PAGE_SIZE", 1)
    first = text_of(client.get("/pipeline/team?sort=visits&order=desc"))
    assert drawn(first) == [world["rep2"].name]
    assert "Page 1 of 2" in first
    following = html.unescape(re.search(r'rel="next" href="([^"]+)"', first).group(1))
    assert "sort=visits" in following and "page=2" in following
    second = text_of(client.get(following))
    assert drawn(second) == [world["rep1"].name]
    assert totals(first) == totals(second) == totals(whole)
    # A new order starts again from the first page.
    by_name = html.unescape(re.search(r'href="([^"]*sort=name[^"]*)"', second).group(1))
    assert "page=" not in by_name
    export = client.get("/pipeline/team/export?format=csv&sort=visits&order=desc&page=2")
    exported = export.get_data(as_text=True)
    assert world["rep1"].name in exported and world["rep2"].name in exported


def test_bulk_edit_of_every_factory_listed_takes_the_lists_filters_not_the_ticks(
    client, world, db_session
):
    sign_in(client, world["manager_a"].email)
    page = text_of(client.get(f"/pipeline/reassign?rep={world['rep1'].id}"))
    assert 'name="every_listed"' in page and f'name="rep" value="{world["rep1"].id}"' in page
    listed = db_session.scalars(
        select(Factory.id).where(Factory.owner_id == world["rep1"].id)
    ).all()
    assert len(listed) > 1
    token = csrf_token(client, "/account/")
    response = client.post(
        "/pipeline/reassign",
        data={
            "csrf_token": token,
            "action": "key_on",
            "every_listed": "y",
            "rep": world["rep1"].id,
            "factory_ids": [world["b1"].id],  # ticked, but not listed: left alone
        },
    )
    assert response.status_code == 303
    flags = dict(db_session.execute(select(Factory.id, Factory.is_key_account)).all())
    assert all(flags[factory_id] for factory_id in listed)
    assert not flags[world["b1"].id]


# --- the name filter and the order ---------------------------------------------------------------


def test_the_name_filter_narrows_the_board_and_is_kept_in_its_links(client, world):
    sign_in(client, world["manager_a"].email)
    page = board(client, q="junior")
    assert sorted(card_names(page)) == ["Junior Offsite", "Junior Overdue"]
    assert 'name="q" type="search" value="junior"' in page
    move_link = re.search(r'class="board-move-button" href="([^"]+)"', page).group(1)
    assert "q=junior" in move_link
    assert "1 filter on" in page


def test_a_name_with_nothing_to_look_for_says_so_by_the_field(client, world):
    sign_in(client, world["manager_a"].email)
    page = board(client, q="!!")
    assert card_names(page) == []
    assert 'id="q-error"' in page and "Type part of a name" in page


def test_the_board_opens_on_the_longest_waiting_first(client, world, db_session):
    for name, days in (("Senior New", 3), ("Senior Old", 200)):
        fresh = builders.factory(world["belt_a"], owner=world["rep2"], stage="senior", name=name)
        fresh.stage_entered_at = NOW - timedelta(days=days)
    db_session.commit()
    sign_in(client, world["manager_a"].email)
    page = board(client)
    senior = page[page.index('data-column="senior"') : page.index('data-column="university"')]
    assert card_names(senior)[0] == "Senior Old" and card_names(senior)[-1] == "Senior New"
    assert '<option value="" selected>Waiting longest</option>' in page
    by_name = board(client, order="name")
    senior = by_name[
        by_name.index('data-column="senior"') : by_name.index('data-column="university"')
    ]
    assert card_names(senior) == ["Senior Eligible", "Senior New", "Senior Old"]


def test_a_card_moved_out_of_the_boards_filters_only_leaves_its_column(client, world):
    factory = world["senior_eligible"]
    sign_in(client, world["manager_a"].email)
    response = client.post(
        f"/pipeline/board/{factory.id}/move?flag=eligible",
        data={"csrf_token": csrf_token(client, "/account/"), "to": "paused"},
        headers={"HX-Request": "true"},
    )
    page = text_of(response)
    assert f'<li id="board-card-{factory.id}" hx-swap-oob="delete">' in page
    assert "afterbegin" not in page and "Senior Eligible" in page  # in the message only
    counts = dict(re.findall(r'id="board-count-(\w+)" hx-swap-oob="true"[^>]*>(\d+)<', page))
    assert counts == {code: "0" for code in counts}
