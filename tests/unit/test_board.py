"""The board service: columns and their counts, pages of cards, and the move dialog's plan (the
stage rules of crm.services.growth.promotions, with nothing moved before the dialog is
confirmed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.errors import Invalid
from crm.extensions import db
from crm.models import StageChange, Task
from crm.services.growth import stages
from crm.services.pipeline import board, board_moves
from crm.services.pipeline.board import BoardFilters
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db_session):
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    factories = {
        "prospect": builders.factory(belt, status="prospect", name="Prospect"),
        "prospect_no_code": builders.factory(belt, status="prospect", name="No code"),
        "elementary": builders.factory(belt, owner=rep, stage="elementary", name="Elementary"),
        "junior": builders.factory(belt, owner=rep, stage="junior", name="Junior"),
        "paused": builders.factory(belt, owner=rep, status="paused", stage="senior", name="P"),
        "churned": builders.factory(belt, owner=rep, status="churned", name="C"),
    }
    factories["prospect_no_code"].credit_code = None
    stages.create_stage_tasks(factories["elementary"], "elementary", NOW)
    return {**factories, "rep": rep, "manager": builders.user("manager", leads=[team])}


def test_columns_count_factories_churned_in_their_own_column(world):
    counts = board.counts(world["manager"], BoardFilters(), NOW)
    assert counts == {
        "prospect": 2,
        "elementary": 1,
        "junior": 1,
        "senior": 0,
        "university": 0,
        "paused": 1,
        "churned": 1,
    }


def test_a_column_pages_by_thirty_oldest_in_stage_first(world):
    belt = world["elementary"].belt
    for n in range(35):
        factory = builders.factory(belt, owner=world["rep"], stage="university", name=f"U{n:02d}")
        factory.stage_entered_at = NOW - timedelta(days=100 - n)
    db.session.flush()
    filters = BoardFilters(order="waiting")
    first = board.column_cards(world["manager"], filters, "university", 0, NOW)
    second = board.column_cards(world["manager"], filters, "university", 30, NOW)
    assert first.count == 35 and first.has_more and not second.has_more
    assert [card.name for card in first.cards][:2] == ["U00", "U01"]
    assert len(first.cards) == 30 and len(second.cards) == 5
    assert (first.page, second.page, second.pages) == (1, 2, 2)
    assert first.cards[0].days == 100
    past_the_end = board.column_cards(world["manager"], filters, "university", 500, NOW)
    assert past_the_end.page == 2 and len(past_the_end.cards) == 5


def test_the_board_shows_the_first_ten_cards_of_each_column_and_counts_them_all(world):
    belt = world["elementary"].belt
    for n in range(25):
        builders.factory(belt, owner=world["rep"], stage="senior", name=f"S{n:02d}")
    db.session.flush()
    by_name = BoardFilters(order="name")
    columns = {
        column.code: column for column in board.build(world["manager"], by_name, NOW).columns
    }
    senior = columns["senior"]
    assert senior.count == 25 and len(senior.cards) == board.BOARD_CARDS == 10
    assert [card.name for card in senior.cards] == [f"S{n:02d}" for n in range(10)]
    assert senior.has_more and senior.shown == 10 and senior.next_page == 1
    assert [card.name for card in columns["prospect"].cards] == ["No code", "Prospect"]
    assert not columns["prospect"].has_more
    more = board.column_cards(world["manager"], by_name, "senior", senior.shown, NOW)
    assert [card.name for card in more.cards] == [f"S{n:02d}" for n in range(10, 25)]
    assert not more.has_more


@pytest.mark.parametrize(
    ("factory", "target", "kind", "override"),
    [
        ("prospect", "elementary", "sign", False),
        ("elementary", "junior", "promote", True),  # four required items still open
        ("elementary", "senior", "skip", True),
        ("junior", "elementary", "demote", True),
        ("junior", "paused", "pause", False),
        ("paused", "senior", "reactivate", False),
        ("junior", "churned", "churn", False),
    ],
)
def test_the_plan_names_the_move_and_whether_it_is_an_override(
    world, factory, target, kind, override
):
    plan = board_moves.plan_move(world["manager"], world[factory], target, NOW)
    assert plan.refusal is None and plan.direct
    assert (plan.kind, plan.override) == (kind, override)


def test_an_eligible_promotion_is_not_an_override(world):
    factory = world["elementary"]
    for task in db.session.scalars(select(Task).where(Task.factory_id == factory.id)):
        task.status = "done"
    db.session.flush()
    plan = board_moves.plan_move(world["manager"], factory, "junior", NOW)
    assert plan.kind == "promote" and not plan.override and plan.check.eligible


@pytest.mark.parametrize(
    ("factory", "target", "refusal"),
    [
        ("elementary", "prospect", "never goes back to being a prospect"),
        ("elementary", "elementary", "in this column already"),
        ("prospect_no_code", "elementary", "needs its credit code"),
        ("paused", "junior", "Reactivate the factory first"),
        ("junior", "nowhere", "Choose one of the board's columns"),
    ],
)
def test_moves_that_cannot_be_made_are_refused_with_the_reason(world, factory, target, refusal):
    plan = board_moves.plan_move(world["manager"], world[factory], target, NOW)
    assert refusal in plan.refusal
    assert not plan.possible


def test_a_rep_s_override_is_refused_and_a_plain_move_is_a_request(world):
    plan = board_moves.plan_move(world["rep"], world["junior"], "elementary", NOW)
    assert "only a manager or admin" in plan.refusal and not plan.direct
    with pytest.raises(Invalid):
        board_moves.move(world["rep"], world["junior"], "elementary", "Too early", True, NOW)
    change = board_moves.move(
        world["rep"], world["junior"], "paused", "Closed for the holiday", False, NOW
    )
    assert change.decision == "pending" and world["junior"].status == "active"
    again = board_moves.plan_move(world["rep"], world["junior"], "churned", NOW)
    assert again.pending == change and not again.possible


def test_a_manager_s_move_is_made_at_once_and_kept_in_history(world):
    change = board_moves.move(world["manager"], world["junior"], "paused", "", False, NOW)
    assert change.decision == "direct" and world["junior"].status == "paused"
    assert db.session.scalar(select(StageChange).where(StageChange.id == change.id))


def test_paused_factories_come_in_name_order_whatever_their_stage(world):
    belt = world["elementary"].belt
    for name, stage in (("Pb", "junior"), ("Pa", "university"), ("Pc", "elementary")):
        builders.factory(belt, owner=world["rep"], status="paused", stage=stage, name=name)
    db.session.flush()
    by_name = BoardFilters(order="name")
    columns = {c.code: c for c in board.build(world["manager"], by_name, NOW).columns}
    assert [card.name for card in columns["paused"].cards] == ["P", "Pa", "Pb", "Pc"]


def test_the_board_orders_each_column_by_the_longest_in_stage_first_by_default(world):
    belt = world["elementary"].belt
    for name, days in (("Newest", 2), ("Oldest", 90), ("Middle", 30)):
        builders.factory(belt, owner=world["rep"], stage="senior", name=name).stage_entered_at = (
            NOW - timedelta(days=days)
        )
    db.session.flush()
    columns = {c.code: c for c in board.build(world["manager"], BoardFilters(), NOW).columns}
    assert [card.name for card in columns["senior"].cards] == ["Oldest", "Middle", "Newest"]
    assert [card.days for card in columns["senior"].cards] == [90, 30, 2]
    page = board.column_cards(world["manager"], BoardFilters(), "senior", 0, NOW)
    assert [card.name for card in page.cards] == ["Oldest", "Middle", "Newest"]


def test_churned_factories_have_their_own_column_with_their_cards(world):
    built = board.build(world["manager"], BoardFilters(), NOW)
    churned = next(column for column in built.columns if column.code == "churned")
    assert board.FOLDED == ("churned",)
    assert churned.count == 1 and [card.name for card in churned.cards] == ["C"]


def test_a_card_shows_where_its_pending_request_asks_to_go(world):
    board_moves.move(world["rep"], world["junior"], "paused", "Holiday", False, NOW)
    board_moves.move(world["rep"], world["paused"], "senior", "Back", False, NOW)
    cards = {
        card.name: card
        for column in board.build(world["manager"], BoardFilters(), NOW).columns
        for card in column.cards
    }
    assert cards["Junior"].pending == "paused"
    assert cards["P"].pending == "senior"
    assert cards["Elementary"].pending is None
    assert board.card(world["manager"], world["junior"].id, NOW).pending == "paused"


def test_the_name_filter_finds_factories_by_part_of_their_name(world):
    found = board.build(world["manager"], BoardFilters(q="junio"), NOW)
    assert [card.name for column in found.columns for card in column.cards] == ["Junior"]
    assert found.filters.active == 1


def test_a_card_outside_the_boards_filters_is_not_drawn(world):
    junior = world["junior"]
    assert board.card(world["manager"], junior.id, NOW, BoardFilters(q="junio")).name == "Junior"
    assert board.card(world["manager"], junior.id, NOW, BoardFilters(q="elementary")) is None


def test_a_managers_board_reads_each_columns_first_cards_in_order_from_an_index(db_session):
    """Issue 25: each column of a manager's belt was sorted whole for its first cards (a
    5,000-factory belt: 9 ms of SQLite a board); ix_factories_belt_column_waiting gives them
    in the board's default order."""
    from crm.services.factories.list_filters import stale_thresholds
    from crm.services.pipeline.board_filters import column_condition, filtered
    from tests.unit.test_factory_list import plan_of

    team = builders.team()
    belt = builders.belt(team)
    manager = builders.user("manager", leads=[team])
    for n in range(3):
        builders.factory(belt, status="active", stage="junior", name=f"F{n}")
    db_session.commit()
    matching = filtered(manager, BoardFilters(), NOW, stale_thresholds(NOW))
    column = board._order(
        matching.with_only_columns(board.Factory.id).where(column_condition("junior")),
        BoardFilters().order,
        "junior",
    ).limit(board.CARDS_PER_PAGE)
    plan = plan_of(column, "sort")  # the index gives the order: no sort is needed at any size
    assert "ix_factories_belt_column_waiting" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_the_cards_statement_is_built_once_and_binds_each_reads_time_and_scope(world):
    """The board's cards come from a statement kept per process (crm.statements): a second
    read builds none, yet its flags are reckoned from its own time, and a scope or a filter of
    its own gets a statement of its own."""
    from crm import statements

    factory = world["junior"]
    factory.last_visit_at = NOW - timedelta(days=1)
    factory.next_follow_up_at = NOW + timedelta(days=3)
    db.session.flush()
    statements.forget()
    manager = world["manager"]

    def junior_card(now, filters=None):
        chosen = filters or BoardFilters()
        columns = {column.code: column for column in board.build(manager, chosen, now).columns}
        return next(card for card in columns["junior"].cards if card.id == factory.id)

    fresh = junior_card(NOW)
    built = len(statements._kept)
    later = junior_card(NOW + timedelta(days=200))
    assert len(statements._kept) == built == 1
    assert (fresh.stale, fresh.overdue) == (False, False)
    assert (later.stale, later.overdue) == (True, True)
    assert junior_card(NOW, BoardFilters(order="name")).id == factory.id
    assert len(statements._kept) == 2  # the order is the statement's own
    # A belt more for the manager's team: the scope's SQL changes, and so does its statement.
    other = builders.factory(builders.belt(world["rep"].team), stage="junior", name="Elsewhere")
    columns = {column.code: column for column in board.build(manager, BoardFilters(), NOW).columns}
    assert other.id in [card.id for card in columns["junior"].cards]
    assert len(statements._kept) == 3
