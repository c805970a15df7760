"""What the pipeline board costs to draw does not grow with its cards (issue 25, "rendering that
does not grow per row"): the translations looked up, links built, forms and statements of a
manager's board stay the same for a few cards and for a hundred and more, and a card carries
no more markup than it shows."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import func, select, update

from crm.extensions import db
from crm.models import Task
from crm.services.growth import stages
from crm.services.pipeline import board
from tests import builders
from tests.web.helpers import sign_in
from tests.web.test_page_weight import NOW, draw  # noqa: F401 - the fixture
from tests.web.test_pipeline_board import counted_statements

CARD_MAX_BYTES = 650


def a_belt_of(factories: int):
    """A manager's belt of `factories` factories over every column of the board, each one a
    different number of days in its stage and with a checklist part done, some flagged."""
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    done = []
    columns = ("prospect", "elementary", "junior", "senior", "university", "paused")
    for number in range(factories):
        column = columns[number % len(columns)]
        status = column if column in ("prospect", "paused") else "active"
        factory = builders.factory(
            belt,
            owner=None if number % 5 == 0 else rep,
            status=status,
            stage="senior" if column == "paused" else column,
            name=f"工厂 {number:04d}",
            is_key_account=number % 7 == 0,
            next_follow_up_at=NOW + timedelta(days=number % 5 - 2),
            last_visit_at=NOW - timedelta(days=number % 50),
            created_at=NOW - timedelta(days=300 + number),
        )
        if status == "active":
            factory.stage_entered_at = NOW - timedelta(days=number)
            stages.create_stage_tasks(factory, column, NOW)
            if number % 2:
                done.append(factory.id)
    db.session.execute(  # one required item done of every other factory
        update(Task)
        .where(Task.factory_id.in_(done), Task.required.is_(True))
        .where(Task.id.in_(select(func.min(Task.id)).group_by(Task.factory_id)))
        .values(status="done")
    )
    return builders.user("manager", leads=[team])


def test_the_boards_cost_does_not_grow_with_its_cards(app, db_session, draw):  # noqa: F811
    small, large = a_belt_of(6), a_belt_of(60)  # one card a column, and ten: all drawn
    db.session.commit()
    few, many = draw(small, "/pipeline/board"), draw(large, "/pipeline/board")
    card = (many.size - few.size) // 54
    assert 300 < card <= CARD_MAX_BYTES, f"{card} bytes a card"
    # The filters, the header's search and sign-out: no form per card.
    assert many.forms == few.forms <= 3
    assert many.csrf_tokens == few.csrf_tokens
    assert many.translations == few.translations
    assert many.urls == few.urls


def test_a_large_board_draws_ten_cards_a_column(app, db_session, draw):  # noqa: F811
    ten, more = a_belt_of(60), a_belt_of(150)  # 25 a column: "Show more" on each
    db.session.commit()
    drawn, larger = draw(ten, "/pipeline/board"), draw(more, "/pipeline/board")
    assert larger.size < drawn.size + 3_000
    columns = len(board.COLUMNS)  # each one's "Show more": its words and two links
    assert larger.translations <= drawn.translations + columns
    assert larger.urls <= drawn.urls + 2 * columns


def test_the_boards_statements_do_not_grow_with_its_cards(app, db_session):
    small, large = a_belt_of(6), a_belt_of(150)
    db.session.commit()
    counts = []
    for manager in (small, large):
        client = app.test_client()
        with time_machine.travel(NOW, tick=False):
            sign_in(client, manager.email)
            client.get("/pipeline/board")
            with counted_statements() as statements:
                assert client.get("/pipeline/board").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1]
