"""What a rep's page costs to draw does not grow with its rows (issue 25, "rendering that does
not grow per row"): the translations looked up, links built, forms and CSRF tokens of Today and
of the factory list stay the same for a few rows and for many, and the demo rep's day fits in
40 KB of HTML before compression."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import flask_babel
import pytest
import time_machine
from sqlalchemy import event, select, text

from crm.demo import seed as demo
from crm.extensions import db
from crm.models import Factory
from tests import builders
from tests.web.helpers import sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 25 Nov 2026, 10:00 in Shanghai
TODAY_MAX_BYTES = 40 * 1024


@dataclass
class Drawn:
    """What one page cost: catalogue lookups, URLs built, forms and CSRF tokens in its HTML."""

    translations: int
    urls: int
    records: int  # rows read as ORM records (a list that only shows columns reads values)
    forms: int
    csrf_tokens: int
    size: int


@pytest.fixture
def draw(app, monkeypatch, request):
    counts = {"translations": 0, "urls": 0, "records": 0}
    lookup = flask_babel.Domain.get_translations
    build = app.url_for

    def counted_lookup(domain):
        counts["translations"] += 1
        return lookup(domain)

    def counted_build(*args, **kwargs):
        counts["urls"] += 1
        return build(*args, **kwargs)

    def counted_load(_record, _context):
        counts["records"] += 1

    event.listen(db.Model, "load", counted_load, propagate=True)
    request.addfinalizer(lambda: event.remove(db.Model, "load", counted_load))
    monkeypatch.setattr(flask_babel.Domain, "get_translations", counted_lookup)
    monkeypatch.setattr(app, "url_for", counted_build)  # flask.url_for asks the app
    monkeypatch.setitem(app.jinja_env.globals, "url_for", counted_build)

    def drawn(user, path: str) -> Drawn:
        """The page as `user` sees it, signed in on a client of their own."""
        client = app.test_client()
        with time_machine.travel(NOW, tick=False):
            sign_in(client, user.email)
            client.get(path)  # the first request of a session warms what every request shares
            counts.update(translations=0, urls=0, records=0)
            response = client.get(path)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        return Drawn(
            translations=counts["translations"],
            urls=counts["urls"],
            records=counts["records"],
            forms=html.count("<form"),
            csrf_tokens=html.count('name="csrf_token"') + html.count('name="csrf-token"'),
            size=len(response.get_data()),
        )

    return drawn


def assert_same_cost(few: Drawn, many: Drawn, csrf_tokens: int = 3) -> None:
    assert many.size > few.size + 5_000  # the rows are drawn
    assert many.forms == few.forms
    # The page's own, sign-out's and the rows' one form (the factory page has a few of its own).
    assert many.csrf_tokens == few.csrf_tokens <= csrf_tokens
    assert many.translations <= few.translations + 2
    assert many.urls <= few.urls + 2


def a_day_of(rep, belt, follow_ups: int) -> None:
    """Follow-ups spread over overdue, today and the next days, each at its own factory."""
    for number in range(follow_ups):
        factory = builders.factory(
            belt, owner=rep, stage=("elementary", "junior", "senior")[number % 3]
        )
        due = NOW + timedelta(hours=6 * (number % 7) - 18)  # from yesterday to the day after
        builders.follow_up(factory, rep, due, reason=f"Reason {number}")


@pytest.fixture
def two_days(db_session):
    """Two reps of one team: a day of 2 follow-ups and a day of 14."""
    team = builders.team()
    belt = builders.belt(team)
    small, large = builders.user("rep", team_=team), builders.user("rep", team_=team)
    a_day_of(small, belt, 2)
    a_day_of(large, belt, 14)
    db.session.commit()
    return small, large


def test_todays_cost_does_not_grow_with_its_follow_ups(two_days, draw):
    small, large = two_days
    few, many = draw(small, "/today"), draw(large, "/today")
    assert_same_cost(few, many)


# What a Today row's markup weighs, its factory's name and reason apart: the day of the bench's
# rep (43 rows) fits in 40 KB with it (bench/throughput.py); the buttons and the Move panel
# are styled by their place, not by classes repeated on every row.
TODAY_ROW_MAX_BYTES = 760


def test_a_today_row_weighs_little_more_than_its_words(two_days, draw):
    small, large = two_days
    few, many = draw(small, "/today"), draw(large, "/today")
    words = (
        sum(
            len(factory.name.encode()) + len(f"Reason {number}")
            for number, factory in enumerate(
                db.session.scalars(
                    select(Factory).where(Factory.owner_id == large.id).order_by(Factory.id)
                )
            )
        )
        / 14
    )
    per_row = (many.size - few.size) / 12 - words
    assert per_row <= TODAY_ROW_MAX_BYTES, f"{per_row:.0f} bytes a row besides its words"


def a_list_of(factories: int):
    """A rep of a team of their own with `factories` factories to see, every third one an
    unowned prospect of the team's belt that the rep may claim, some with a follow-up."""
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    for number in range(factories):
        if number % 3 == 0:
            builders.factory(belt, status="prospect", stage=None)
            continue
        factory = builders.factory(belt, owner=rep, stage=("elementary", "junior")[number % 2])
        factory.next_follow_up_at = NOW + timedelta(days=number % 4 - 1)
        factory.last_visit_at = NOW - timedelta(days=number % 5)
    return rep


def test_the_factory_lists_cost_does_not_grow_with_its_rows(db_session, draw):
    small, large = a_list_of(3), a_list_of(30)
    db.session.commit()
    few, many = draw(small, "/factories/"), draw(large, "/factories/")
    assert_same_cost(few, many)


def test_the_factory_list_reads_its_rows_as_values_not_records(db_session, draw):
    small, large = a_list_of(3), a_list_of(30)
    db.session.commit()
    few, many = draw(small, "/factories/"), draw(large, "/factories/")
    # The signed-in user and the belts of the page: never a factory, an owner or a task per row.
    assert many.records == few.records <= 3


@contextmanager
def ids_of_a_fresh_install():
    """Number new rows from each table's largest id, as a fresh install (and SQLite) does.

    PostgreSQL's sequences go on counting over the rolled-back tests of a worker, so a page
    that shows many ids would weigh more than on the install its target is for. The counters
    are put back afterwards (setval is outside transactions)."""
    if db.engine.dialect.name != "postgresql":
        yield
        return
    tables = db.session.execute(
        text(
            "SELECT c.relname, pg_get_serial_sequence(quote_ident(c.relname), 'id') FROM pg_class c"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id'"
            " WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
        )
    ).all()
    counters = {}
    for table, sequence in tables:
        if sequence is None:
            continue
        counters[sequence] = db.session.scalar(text(f"SELECT last_value FROM {sequence}"))
        largest = db.session.scalar(text(f'SELECT coalesce(max(id), 0) FROM "{table}"'))
        db.session.execute(text("SELECT setval(:s, :v, false)"), {"s": sequence, "v": largest + 1})
    try:
        yield
    finally:
        for sequence, value in counters.items():
            db.session.execute(text("SELECT setval(:s, :v)"), {"s": sequence, "v": value})


def test_the_demo_reps_today_fits_in_40_kb(client, db_session):
    with ids_of_a_fresh_install():
        demo.seed_demo("test", factories=demo.DEFAULT_FACTORIES, seed=demo.DEFAULT_SEED)
        db.session.commit()
    sign_in(client, "rep@example.com", demo.DEMO_PASSWORD)
    response = client.get("/today")
    assert response.status_code == 200
    rows = response.get_data(as_text=True).count('class="row today-row"')
    assert rows >= 20  # a full day: overdue, today and the next days
    assert len(response.get_data()) <= TODAY_MAX_BYTES, f"{len(response.get_data())} bytes"


def a_factory_with(manager, rep, belt, rows: int):
    """A factory of `rows` checklist items in every state (some handed in, a video shoot, a
    waived one, one due), `rows` visits and `rows` stage changes."""
    factory = builders.factory(belt, owner=rep, stage="elementary", name=f"Factory of {rows}")
    kinds = ("custom", "brand", "video_shoot", "custom")
    for number in range(rows):
        status = ("open", "submitted", "done", "waived")[number % 4]
        builders.task(
            factory,
            title=f"Item {number}",
            status=status,
            required=number % 2 == 0,
            kind=kinds[number % 4],
            due_on=(NOW + timedelta(days=number % 5 - 2)).date(),
            evidence_note="Photos sent" if status == "submitted" else None,
            send_back_reason="Blurry" if status == "open" else "",
        )
        builders.visit(
            factory,
            rep,
            purpose=("first_contact", "assessment", "training", "follow_up")[number % 4],
            checked_in_at=NOW - timedelta(days=number + 1),
            summary=f"Visit {number}",
        )
        builders.stage_change(
            factory,
            rep,
            manager,
            NOW - timedelta(days=number, hours=2),
            decision=("refused", "approved", "direct")[number % 3],
            reason=f"Reason {number}",
            decision_note=f"Note {number}",
        )
    db.session.flush()
    return factory


@pytest.mark.parametrize("role", ["rep", "manager"])
def test_the_factory_pages_cost_does_not_grow_with_its_checklist_and_history(
    db_session, draw, role
):
    team = builders.team()
    belt = builders.belt(team)
    rep, manager = builders.user("rep", team_=team), builders.user("manager", leads=[team])
    small, large = a_factory_with(manager, rep, belt, 2), a_factory_with(manager, rep, belt, 16)
    db.session.commit()
    viewer = rep if role == "rep" else manager
    few = draw(viewer, f"/factories/{small.id}")
    many = draw(viewer, f"/factories/{large.id}")
    assert many.size > few.size + 5_000  # the rows are drawn
    assert many.forms == few.forms
    assert many.csrf_tokens == few.csrf_tokens
    assert many.translations <= few.translations + 2
    assert many.urls <= few.urls + 2
