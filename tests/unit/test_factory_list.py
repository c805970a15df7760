"""The staff's factory list: scope, search, filters, derived flags, checklist progress, pages."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import event, select, text

from crm import scope
from crm.extensions import db
from crm.models import Factory, MetricSnapshot, StageDefinition, Task
from crm.services.factories import factory_list, list_filters
from crm.services.factories import search as factory_search
from crm.services.factories.factory_list import PAGE_SIZE, list_factories
from crm.services.factories.list_filters import Filters
from crm.services.growth import stages
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt, other_belt = builders.belt(team), builders.belt(other_team)
    rep, rep2 = builders.user("rep", team_=team), builders.user("rep", team_=team)
    return {
        "belt": belt,
        "other_belt": other_belt,
        "rep": rep,
        "rep2": rep2,
        "rep_other_team": builders.user("rep", team_=other_team),
        "manager": builders.user("manager", leads=[team]),
        "admin": builders.user("admin"),
    }


def names(actor, **filters) -> list[str]:
    return [row.factory.name for row in list_factories(actor, Filters(**filters), NOW).rows]


def row_of(actor, factory, **filters) -> factory_list.Row:
    listing = list_factories(actor, Filters(**filters), NOW)
    return next(row for row in listing.rows if row.factory.id == factory.id)


# --- scope ---------------------------------------------------------------------------------


def test_rep_sees_own_factories_and_claimable_prospects_but_never_another_reps(world):
    belt = world["belt"]
    builders.factory(belt, owner=world["rep"], name="Mine")
    builders.factory(belt, owner=world["rep2"], name="Another rep's")
    builders.factory(belt, status="prospect", name="Claimable prospect")
    builders.factory(world["other_belt"], status="prospect", name="Other team's prospect")
    builders.factory(world["other_belt"], owner=world["rep_other_team"], name="Other team's")
    assert names(world["rep"]) == ["Claimable prospect", "Mine"]
    assert names(world["rep2"]) == ["Another rep's", "Claimable prospect"]


def test_only_the_reps_claimable_prospects_are_offered_for_claiming(world):
    prospect = builders.factory(world["belt"], status="prospect", name="Prospect")
    own = builders.factory(world["belt"], owner=world["rep"], status="prospect", name="Own")
    assert row_of(world["rep"], prospect).claimable
    assert not row_of(world["rep"], own).claimable
    # A manager assigns prospects to reps; only field staff own factories.
    assert not row_of(world["manager"], prospect).claimable


def test_manager_sees_their_belts_and_admin_sees_all(world):
    builders.factory(world["belt"], owner=world["rep"], name="A")
    builders.factory(world["belt"], owner=world["rep2"], name="B")
    builders.factory(world["other_belt"], owner=world["rep_other_team"], name="C")
    assert names(world["manager"]) == ["A", "B"]
    assert names(world["admin"]) == ["A", "B", "C"]


def test_factory_user_sees_only_their_own_factory(world):
    own = builders.factory(world["belt"], owner=world["rep"], name="Own")
    builders.factory(world["belt"], owner=world["rep"], name="Not theirs")
    assert names(builders.user("factory", factory=own)) == ["Own"]


# --- search and filters ----------------------------------------------------------------------


def test_search_finds_a_name_part_in_any_case_and_a_credit_code_exactly(world):
    rep = world["rep"]
    hengda = builders.factory(world["belt"], owner=rep, name="Yongkang Hengda Hardware")
    builders.factory(world["belt"], owner=rep, name="永康市金盛工贸有限公司")
    assert names(rep, search="hengda") == ["Yongkang Hengda Hardware"]
    assert names(rep, search="  HENGDA ") == ["Yongkang Hengda Hardware"]
    assert names(rep, search="金盛") == ["永康市金盛工贸有限公司"]
    typed = " ".join([hengda.credit_code[:6], hengda.credit_code[6:]]).lower()
    assert names(rep, search=typed) == ["Yongkang Hengda Hardware"]
    assert names(rep, search=hengda.credit_code[:10]) == []


def test_text_without_cased_letters_is_found_without_folding_each_names_case(world):
    rep = world["rep"]
    builders.factory(world["belt"], owner=rep, name="永康市金盛工贸有限公司")
    builders.factory(world["belt"], owner=rep, name="Jinsheng 金盛 Trading")
    builders.factory(world["belt"], owner=rep, name="永康市东丰文具厂")
    assert names(rep, search="金盛") == ["Jinsheng 金盛 Trading", "永康市金盛工贸有限公司"]
    # The search key is kept in lower case when written: no search folds each row's case.
    for text_ in ("金盛", "2026", "Hengda"):
        compiled = str(factory_search.condition(text_).compile(db.engine)).lower()
        assert "ilike" not in compiled and "lower(" not in compiled, compiled


def test_search_treats_percent_and_underscore_as_text(world):
    rep = world["rep"]
    builders.factory(world["belt"], owner=rep, name="100% Cotton Mill")
    builders.factory(world["belt"], owner=rep, name="1000 Cups")
    assert names(rep, search="100%") == ["100% Cotton Mill"]
    assert names(rep, search="_") == []


def test_filters_by_stage_and_status(world):
    rep, belt = world["rep"], world["belt"]
    builders.factory(belt, owner=rep, stage="elementary", name="Elementary")
    builders.factory(belt, owner=rep, stage="junior", name="Junior")
    builders.factory(belt, owner=rep, stage="junior", status="paused", name="Paused junior")
    builders.factory(belt, owner=rep, status="prospect", name="Prospect")
    assert names(rep, stage="junior") == ["Junior", "Paused junior"]
    assert names(rep, status="paused") == ["Paused junior"]
    assert names(rep, stage="junior", status="active") == ["Junior"]
    assert names(rep, status="prospect") == ["Prospect"]
    # A value that is no stage or status narrows nothing.
    assert len(names(rep, stage="kindergarten", status="asleep")) == 4


def test_owner_filter_mine_and_unowned(world):
    rep, belt = world["rep"], world["belt"]
    builders.factory(belt, owner=rep, name="Mine")
    builders.factory(belt, status="prospect", name="Unowned")
    builders.factory(belt, owner=world["rep2"], name="Rep 2's")
    assert names(rep, owner="mine") == ["Mine"]
    assert names(rep, owner="unowned") == ["Unowned"]
    assert names(world["manager"], owner=str(world["rep2"].id)) == ["Rep 2's"]
    # A rep cannot widen their list to another rep's factories by naming them.
    assert names(rep, owner=str(world["rep2"].id)) == ["Mine", "Unowned"]


def test_manager_may_narrow_to_the_reps_of_their_teams(world):
    choices = list_filters.owner_choices(world["manager"])
    assert {value for value, _name in choices} == {str(world["rep"].id), str(world["rep2"].id)}
    assert list_filters.owner_choices(world["rep"]) == []


# --- flags -----------------------------------------------------------------------------------


def test_stale_is_no_visit_for_twice_the_stages_cadence(world):
    rep, belt = world["rep"], world["belt"]
    # Elementary's cadence is 7 days: stale after 14 days without a visit.
    stale = builders.factory(belt, owner=rep, name="Stale", last_visit_at=NOW - timedelta(days=15))
    fresh = builders.factory(belt, owner=rep, name="Fresh", last_visit_at=NOW - timedelta(days=13))
    # Never visited: counts from entering the stage (the builder says 30 days ago).
    never = builders.factory(belt, owner=rep, name="Never visited")
    # Junior's cadence is 14 days: 20 days without a visit is not stale yet.
    junior = builders.factory(
        belt, owner=rep, stage="junior", name="Junior", last_visit_at=NOW - timedelta(days=20)
    )
    assert row_of(rep, stale).stale
    assert not row_of(rep, fresh).stale
    assert row_of(rep, never).stale
    assert not row_of(rep, junior).stale
    assert names(rep, flag="stale") == ["Never visited", "Stale"]


def test_stale_follows_the_cadence_an_admin_sets(world):
    rep = world["rep"]
    factory = builders.factory(world["belt"], owner=rep, last_visit_at=NOW - timedelta(days=15))
    assert row_of(rep, factory).stale
    elementary = db.session.scalar(
        select(StageDefinition).where(StageDefinition.code == "elementary")
    )
    elementary.cadence_days = 10
    db.session.flush()
    assert not row_of(rep, factory).stale


def test_paused_churned_and_unowned_factories_are_never_stale_or_overdue(world):
    rep, belt = world["rep"], world["belt"]
    long_ago, past_due = NOW - timedelta(days=200), NOW - timedelta(days=3)
    for status in ("paused", "churned"):
        builders.factory(
            belt, owner=rep, status=status, last_visit_at=long_ago, next_follow_up_at=past_due
        )
    builders.factory(belt, status="prospect", created_at=long_ago)
    assert names(rep, flag="stale") == []
    assert names(rep, flag="overdue") == []


def test_an_owned_prospect_counts_from_its_creation_at_the_prospect_cadence(world):
    rep, belt = world["rep"], world["belt"]
    old = builders.factory(
        belt, owner=rep, status="prospect", name="Old", created_at=NOW - timedelta(days=29)
    )
    new = builders.factory(
        belt, owner=rep, status="prospect", name="New", created_at=NOW - timedelta(days=27)
    )
    assert row_of(rep, old).stale
    assert not row_of(rep, new).stale


def test_overdue_is_a_follow_up_past_due(world):
    rep, belt = world["rep"], world["belt"]
    late = builders.factory(
        belt, owner=rep, name="Late", next_follow_up_at=NOW - timedelta(minutes=1)
    )
    due = builders.factory(belt, owner=rep, name="Due", next_follow_up_at=NOW + timedelta(hours=1))
    assert row_of(rep, late).overdue
    assert not row_of(rep, due).overdue
    assert names(rep, flag="overdue") == ["Late"]


def test_eligible_is_eligible_since_set(world):
    rep, belt = world["rep"], world["belt"]
    ready = builders.factory(belt, owner=rep, name="Ready", eligible_since=NOW - timedelta(days=2))
    builders.factory(belt, owner=rep, name="Not ready")
    assert row_of(rep, ready).eligible
    assert names(rep, flag="eligible") == ["Ready"]


# --- checklist progress ----------------------------------------------------------------------


def test_progress_counts_the_required_items_of_the_current_stage(world):
    rep = world["rep"]
    factory = builders.factory(world["belt"], owner=rep, stage="junior")
    builders.task(factory, "Done", status="done")
    builders.task(factory, "Waived", status="waived")
    builders.task(factory, "Open", status="open")
    builders.task(factory, "Handed in", status="submitted")
    builders.task(factory, "Optional and done", status="done", required=False)
    old = builders.task(factory, "Last stage's", status="open")
    old.stage = "elementary"
    db.session.flush()
    row = row_of(rep, factory)
    assert (row.required_done, row.required_total) == (2, 4)
    assert row.percent == 50


def test_progress_counts_a_measured_item_met_by_its_latest_figure(world):
    rep = world["rep"]
    factory = builders.factory(world["belt"], owner=rep, stage="junior")
    stages.create_stage_tasks(factory, "junior", NOW)
    db.session.flush()
    tasks = db.session.scalars(select(Task).where(Task.factory_id == factory.id)).all()
    required = [task for task in tasks if task.required]
    measured = next(task for task in required if task.kind == "measured")
    db.session.add(
        MetricSnapshot(
            factory=factory,
            metric_code=measured.metric_code,
            month=date(2026, 10, 1),
            value=measured.target_value + 1,
        )
    )
    db.session.flush()
    row = row_of(rep, factory)
    assert (row.required_done, row.required_total) == (1, len(required))


def test_a_prospect_has_no_checklist_yet(world):
    prospect = builders.factory(world["belt"], status="prospect")
    row = row_of(world["rep"], prospect)
    assert (row.required_done, row.required_total, row.percent) == (0, 0, 0)


# --- pages -----------------------------------------------------------------------------------


def test_pages_of_fifty_in_a_stable_order_with_counts(world):
    rep = world["rep"]
    for n in range(120):
        builders.factory(world["belt"], owner=rep, name=f"Factory {n:03d}")
    first = list_factories(rep, Filters(), NOW)
    assert (first.total, first.pages, first.first, first.last) == (120, 3, 1, PAGE_SIZE)
    assert first.rows[0].factory.name == "Factory 000"
    assert not first.has_previous and first.has_next
    last = list_factories(rep, Filters(page=3), NOW)
    assert (len(last.rows), last.first, last.last) == (20, 101, 120)
    assert last.rows[-1].factory.name == "Factory 119"
    assert last.has_previous and not last.has_next
    seen = [
        row.factory.name
        for page in (1, 2, 3)
        for row in list_factories(rep, Filters(page=page), NOW).rows
    ]
    assert seen == sorted(seen) and len(set(seen)) == 120


def test_same_names_keep_their_order_by_id(world):
    rep = world["rep"]
    twins = [builders.factory(world["belt"], owner=rep, name="Twin") for _ in range(3)]
    listed = [row.factory.id for row in list_factories(rep, Filters(), NOW).rows]
    assert listed == sorted(twin.id for twin in twins)


def test_a_page_past_the_end_shows_the_last_page(world):
    for n in range(3):
        builders.factory(world["belt"], owner=world["rep"], name=f"F{n}")
    listing = list_factories(world["rep"], Filters(page=9), NOW)
    assert listing.filters.page == 1
    assert len(listing.rows) == 3


def test_an_empty_list_has_no_rows_and_one_page(world):
    listing = list_factories(world["rep"], Filters(), NOW)
    assert (listing.total, listing.pages, listing.first, listing.last) == (0, 1, 0, 0)


def test_the_filters_round_trip_through_the_url_query():
    filters = Filters(search="hengda", stage="junior", flag="stale", page=2)
    assert filters.query() == {"q": "hengda", "stage": "junior", "flag": "stale", "page": 2}
    assert filters.query(page=1) == {"q": "hengda", "stage": "junior", "flag": "stale"}
    assert filters.active == 2


# --- a rep's scope at a bounded cost (issue 25, point 4) ------------------------------------

TODAY = NOW.date()


def statements_during(call) -> list[str]:
    seen: list[str] = []

    def keep(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    return seen


def plan_of(statement, *avoid: str) -> str:
    """The plan the database chooses for a statement (PostgreSQL told not to read a table
    whole where an index could answer: the test tables are too small to need one). `avoid`
    names more of PostgreSQL's plan steps to avoid where it can ("sort": a few rows sort so
    cheaply that, by the table's statistics of the moment, an ordered index may lose)."""
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "postgresql":
        steps = ("seqscan", *avoid)
        for step in steps:
            db.session.execute(text(f"SET LOCAL enable_{step} = off"))
        rows = db.session.execute(text(f"EXPLAIN {compiled}")).scalars()
        plan = "\n".join(rows)
        for step in steps:
            db.session.execute(text(f"SET LOCAL enable_{step} = on"))
        return plan
    return "\n".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


# --- the scope: two indexed sets, the same records ---------------------------------------------


def test_a_reps_scope_is_the_same_records_read_as_two_sets(world):
    rep, rep2, belt = world["rep"], world["rep2"], world["belt"]
    mine = builders.factory(belt, owner=rep, status="active", stage="junior", name="Mine")
    builders.factory(belt, owner=rep2, name="Another rep's")
    unowned = builders.factory(belt, status="prospect", name="Unowned prospect")
    builders.factory(belt, status="active", stage="junior", name="Unowned, active")
    builders.factory(world["other_belt"], status="prospect", name="Other team's prospect")
    listed = set(db.session.scalars(scope.factories(rep, TODAY)))
    by_condition = set(
        db.session.scalars(select(Factory).where(scope.factory_condition(rep, TODAY)))
    )
    assert listed == by_condition == {mine, unowned}


def test_the_reps_scope_reads_the_partial_index_of_unowned_prospects(world):
    plan = plan_of(scope.factories(world["rep"], TODAY).order_by(Factory.name))
    if db.engine.dialect.name == "postgresql":
        # (SQLite, without statistics, may read the same rows by (belt, status) instead.)
        assert "ix_factories_unowned_prospects" in plan, plan
    assert "ix_factories_owner_status_stage_dates" in plan, plan
    assert not re.search(r"(SCAN|Seq Scan on) factories(?! USING)", plan), plan


def test_the_lists_count_and_page_read_the_unowned_prospects_by_their_index(world):
    builders.factory(world["belt"], status="prospect", name="Unowned prospect")
    builders.factory(world["belt"], owner=world["rep"], name="Mine")
    seen = statements_during(lambda: list_factories(world["rep"], Filters(), NOW))
    reads = [statement for statement in seen if "owner_id IS NULL" in statement]
    assert len(reads) == 2, seen  # the count and the page, each its two parts
    if db.engine.dialect.name == "sqlite":
        # Told: without statistics SQLite reads them by (owner, status), every belt's.
        assert all("INDEXED BY ix_factories_unowned_prospects" in s for s in reads), reads


# --- the count stops at a cap -----------------------------------------------------------------


def test_past_the_cap_the_list_says_many_and_never_counts_the_whole_scope(world, monkeypatch):
    monkeypatch.setattr(factory_list, "COUNT_CAP", 5)
    for n in range(12):
        builders.factory(world["belt"], owner=world["rep"], name=f"F{n:02d}")
    listings = []
    seen = statements_during(lambda: listings.append(list_factories(world["rep"], Filters(), NOW)))
    listing = listings[0]
    assert listing.many and listing.total is None and listing.pages is None
    assert len(listing.rows) == 12 and not listing.has_next
    counts = [s for s in seen if s.lower().startswith("select count(")]  # not a row's tally
    assert counts and all("LIMIT" in s.upper() for s in counts), counts


def test_under_the_cap_the_count_is_exact(world):
    for n in range(3):
        builders.factory(world["belt"], owner=world["rep"], name=f"F{n}")
    listing = list_factories(world["rep"], Filters(), NOW)
    assert (listing.total, listing.pages, listing.many) == (3, 1, False)


# --- pages by cursor ------------------------------------------------------------------------


def test_next_and_previous_pages_by_cursor_walk_the_list_in_order(world):
    rep = world["rep"]
    for n in range(120):
        builders.factory(world["belt"], owner=rep, name=f"Factory {n:03d}")
    builders.factory(world["belt"], owner=rep, name="Factory 050")  # a twin, ordered by id
    expected = sorted(db.session.scalars(scope.factories(rep, TODAY)), key=lambda f: (f.name, f.id))
    pages, listing = [], list_factories(rep, Filters(), NOW)
    while True:
        pages.append(listing)
        if not listing.has_next:
            break
        listing = list_factories(rep, listing.next_page(), NOW)
    seen = [row.factory.id for page in pages for row in page.rows]
    assert seen == [f.id for f in expected]
    assert [(p.filters.page, p.first, p.last) for p in pages] == [
        (1, 1, 50),
        (2, 51, 100),
        (3, 101, 121),
    ]
    back = list_factories(rep, pages[2].previous_page(), NOW)
    assert [r.factory.id for r in back.rows] == [r.factory.id for r in pages[1].rows]
    assert back.filters.page == 2 and back.has_next
    first = list_factories(rep, back.previous_page(), NOW)
    assert [r.factory.id for r in first.rows] == [r.factory.id for r in pages[0].rows]
    assert back.previous_page().after is None and back.previous_page().before is None


def test_a_reps_pages_merge_both_parts_of_the_scope_in_order(world):
    """Own factories and the team's unowned prospects, names interleaved: every page, by
    cursor forwards and back and by number, is the scope's rows in name order."""
    rep, belt = world["rep"], world["belt"]
    for n in range(70):
        builders.factory(belt, owner=rep, status="active", stage="junior", name=f"N{2 * n:03d}")
        builders.factory(belt, status="prospect", name=f"N{2 * n + 1:03d}")
    builders.factory(belt, owner=world["rep2"], name="N001 not in scope")
    expected = [
        f.id
        for f in sorted(
            db.session.scalars(scope.factories(rep, TODAY)), key=lambda f: (f.name, f.id)
        )
    ]
    assert len(expected) == 140
    listing, seen, pages = list_factories(rep, Filters(), NOW), [], []
    while True:
        pages.append(listing)
        seen += [row.factory.id for row in listing.rows]
        if not listing.has_next:
            break
        listing = list_factories(rep, listing.next_page(), NOW)
    assert seen == expected
    back = list_factories(rep, pages[2].previous_page(), NOW)
    assert [row.factory.id for row in back.rows] == expected[50:100]
    third = list_factories(rep, Filters(page=3), NOW)
    assert [row.factory.id for row in third.rows] == expected[100:]


def test_a_reps_page_takes_a_page_from_each_part_not_the_whole_scope(world):
    """Each part of a rep's scope gives only its first rows (a LIMIT inside each), so a page
    reads and sorts at most two pages of rows, however large the scope."""
    for n in range(3):
        builders.factory(world["belt"], owner=world["rep"], name=f"F{n}")
    seen = statements_during(lambda: list_factories(world["rep"], Filters(), NOW))
    pages = [s for s in seen if "stale" in s and "count(" not in s.lower()]
    assert len(pages) == 1, seen
    assert pages[0].upper().count("LIMIT") == 3, pages[0]


def test_a_cursor_keeps_its_place_when_rows_are_added_before_it(world):
    rep = world["rep"]
    for n in range(PAGE_SIZE + 5):
        builders.factory(world["belt"], owner=rep, name=f"M{n:03d}")
    first = list_factories(rep, Filters(), NOW)
    builders.factory(world["belt"], owner=rep, name="A new one, first by name")
    second = list_factories(rep, first.next_page(), NOW)
    assert [r.factory.name for r in second.rows] == [f"M{n:03d}" for n in range(50, 55)]


def test_a_stale_or_foreign_cursor_gives_the_first_page(world):
    rep = world["rep"]
    for n in range(3):
        builders.factory(world["belt"], owner=rep, name=f"F{n}")
    foreign = builders.factory(world["belt"], owner=world["rep2"], name="E, not the rep's")
    for cursor in (foreign.id, 10**9):
        for filters in (Filters(after=cursor, page=4), Filters(before=cursor, page=4)):
            listing = list_factories(rep, filters, NOW)
            assert [r.factory.name for r in listing.rows] == ["F0", "F1", "F2"]
            assert (listing.filters.page, listing.filters.after, listing.filters.before) == (
                1,
                None,
                None,
            )


# --- the search on an index -----------------------------------------------------------------


def test_the_name_search_reads_its_index(world):
    statement = select(Factory.id).where(factory_search.condition("hengda"))
    plan = plan_of(statement)
    if db.engine.dialect.name == "postgresql":
        assert "ix_factories_search_key_trgm" in plan, plan
    else:
        assert "VIRTUAL TABLE INDEX" in plan and "factory_search" in plan, plan


def test_the_search_index_follows_names_as_they_change(world):
    factory = builders.factory(world["belt"], owner=world["rep"], name="Yongkang Hengda")
    builders.factory(world["belt"], owner=world["rep"], name="Other")
    db.session.flush()

    def found(search: str) -> list[str]:
        condition = factory_search.condition(search)
        return list(db.session.scalars(select(Factory.name).where(condition)))

    assert found("HENGDA") == ["Yongkang Hengda"]
    factory.name = "Yongkang Jinsheng"
    db.session.flush()
    assert found("hengda") == [] and found("jinsheng") == ["Yongkang Jinsheng"]
    db.session.delete(factory)
    db.session.flush()
    assert found("jinsheng") == []


def test_a_lists_statements_are_built_once_and_bind_each_reads_time_and_scope(world):
    """My factories' page and count come from statements kept per process (crm.statements): a
    second read builds none, yet its flags are reckoned from its own time; another rep, a
    filter or another page gets statements of its own, and a search is built each time."""
    from crm import statements

    rep = world["rep"]
    factory = builders.factory(world["belt"], owner=rep, stage="junior", name="Kept")
    factory.last_visit_at = NOW - timedelta(days=1)
    factory.next_follow_up_at = NOW + timedelta(days=3)
    db.session.flush()
    statements.forget()

    def row(now, actor=rep, **filters):
        found = list_factories(actor, Filters(**filters), now).rows
        return next((row for row in found if row.factory.id == factory.id), None)

    fresh = row(NOW)
    built = len(statements._kept)
    later = row(NOW + timedelta(days=200))
    assert built == len(statements._kept) == 2  # the page and its count
    assert (fresh.stale, fresh.overdue) == (False, False)
    assert (later.stale, later.overdue) == (True, True)
    assert row(NOW + timedelta(days=200), flag="stale") is not None
    assert row(NOW, flag="stale") is None  # the same statement, bound to another time
    assert len(statements._kept) == 4
    other = builders.user("rep", team_=rep.team)
    assert row(NOW, actor=other) is None  # another rep's scope: statements of their own
    assert len(statements._kept) == 6
    assert row(NOW, search="Kept") is not None
    assert len(statements._kept) == 6
    # A belt more for the rep's team: their scope's SQL changes, and so do its statements.
    new_belt = builders.belt(rep.team)
    prospect = builders.factory(new_belt, status="prospect", stage=None, name="Kept's neighbour")
    listed = list_factories(rep, Filters(), NOW).rows
    assert prospect.id in [row.factory.id for row in listed]
