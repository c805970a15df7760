"""A record you can read: audit entries name their factory, the log shows names instead of ids
and filters by factory and by user, and the factory page's History tab stays within scope."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import event, select

from crm.extensions import db
from crm.models import AuditEntry, Task
from crm.services.accounts import auth
from crm.services.factories import edits, reassign
from crm.services.growth import promotions, snapshots, stages, tasks
from crm.services.install import audit, audit_log, audit_names
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db_session):
    team, other_team = builders.team("East"), builders.team("West")
    belt, other_belt = builders.belt(team), builders.belt(other_team)
    rep = builders.user("rep", team_=team)
    taker = builders.user("rep", team_=team)
    outsider = builders.user("rep", team_=other_team)
    manager = builders.user("manager", leads=[team])
    admin = builders.user("admin")
    factory = builders.factory(belt, owner=rep, stage="elementary", name="Lotus Shoes")
    other = builders.factory(other_belt, owner=outsider, name="Pine Bags")
    stages.create_stage_tasks(factory, "elementary", NOW)
    task = db.session.scalars(select(Task).where(Task.factory_id == factory.id)).first()
    tasks.waive(manager, task, "Done before the CRM", NOW)
    snapshots.record_snapshot(rep, factory, "response_3min_rate", date(2026, 10, 1), "80", NOW)
    change = promotions.change_directly(manager, factory, "active", "junior", "Ready", True, NOW)
    reassign.reassign(admin, [factory], taker, NOW)
    audit.record(admin, "factory", other.id, "update", {"name": ("Pine", "Pine Bags")})
    for person in (rep, taker, outsider, manager, admin):
        auth.start_session(person, "test", "127.0.0.1")
    db_session.commit()
    return {
        "rep": rep,
        "taker": taker,
        "outsider": outsider,
        "manager": manager,
        "admin": admin,
        "factory": factory,
        "other": other,
        "task": task,
        "change": change,
    }


def entries_part(page: str) -> str:
    """The listed entries of a page, without the filters' lists (whose values are codes)."""
    return page.split('class="ac-entries"', 1)[1].split("</ol>", 1)[0]


def kinds_for(**filters) -> set[str]:
    entries, _cursor = audit_log.page(audit_log.AuditFilters(**filters), size=200)
    return {entry.record_type for entry in entries}


def test_filtering_by_factory_finds_its_stage_change_task_and_figure(world):
    factory = world["factory"]
    by_id = kinds_for(factory=str(factory.id))
    assert {"stage_change", "task", "metric_snapshot", "factory"} <= by_id
    assert kinds_for(factory="lotus") == by_id
    entries, _cursor = audit_log.page(audit_log.AuditFilters(factory=str(factory.id)), size=200)
    assert all(entry.factory_id == factory.id for entry in entries)
    assert world["other"].id not in {entry.factory_id for entry in entries}


def test_filtering_by_user_finds_what_they_did(world):
    entries, _cursor = audit_log.page(audit_log.AuditFilters(user_id=world["manager"].id))
    assert entries and {entry.actor_id for entry in entries} == {world["manager"].id}


def test_the_log_shows_names_not_ids_and_words_not_codes(app, world):
    client = app.test_client(user=world["admin"])
    factory = world["factory"]
    response = client.get(f"/admin/audit?factory={factory.id}")
    page = entries_part(response.get_data(as_text=True))
    assert response.status_code == 200
    assert world["rep"].name in page and world["taker"].name in page  # owner before and after
    assert "Lotus Shoes" in page and "Stage change" in page and "Owner" in page
    assert "owner_id" not in page and "stage_change" not in page
    chosen = entries_part(
        client.get(f"/admin/audit?user={world['manager'].id}").get_data(as_text=True)
    )
    assert "moved by override" in chosen
    assert f'<span class="row-meta"><span>{world["manager"].name}</span>' in chosen  # the actor


def test_the_log_reads_names_in_one_query_per_kind(app, world):
    entries, _cursor = audit_log.page(audit_log.AuditFilters(), size=200)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        names = audit_names.names_of(entries)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) <= 4
    assert names.users[world["taker"].id] == world["taker"].name
    assert names.factories[world["factory"].id] == "Lotus Shoes"


def test_the_log_in_chinese_translates_kinds_and_fields(app, world):
    client = app.test_client(user=world["admin"])
    page = entries_part(
        client.get(
            f"/admin/audit?factory={world['factory'].id}", headers={"Accept-Language": "zh-CN"}
        ).get_data(as_text=True)
    )
    assert "owner_id" not in page and "metric_snapshot" not in page


def test_the_history_tab_lists_the_factorys_changes_newest_first(app, world):
    client = app.test_client(user=world["taker"])
    factory = world["factory"]
    response = client.get(f"/factories/{factory.id}/history")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Stage change" in page and "Task" in page and "Figure" in page
    assert "Pine" not in page
    ids = [int(part.split('"')[0]) for part in page.split('data-entry-id="')[1:]]
    rows = {entry.id: entry for entry in db.session.scalars(select(AuditEntry))}
    keys = [(rows[entry_id].at, entry_id) for entry_id in ids]
    assert keys == sorted(keys, reverse=True) and len(ids) >= 4
    show = client.get(f"/factories/{factory.id}").get_data(as_text=True)
    assert f"/factories/{factory.id}/history" in show


def test_the_history_tab_is_within_scope(app, world):
    factory = world["factory"]
    assert (
        app.test_client(user=world["outsider"]).get(f"/factories/{factory.id}/history").status_code
        == 404
    )
    assert (
        app.test_client(user=world["manager"]).get(f"/factories/{factory.id}/history").status_code
        == 200
    )
    factory_user = builders.user("factory", factory=factory)
    auth.start_session(factory_user, "test", "127.0.0.1")
    db.session.commit()
    answer = app.test_client(user=factory_user).get(f"/factories/{factory.id}/history")
    assert answer.status_code in (403, 404)


def test_the_history_tab_pages_by_keyset(app, world):
    factory = world["factory"]
    with time_machine.travel(NOW, tick=False):
        for n in range(35):
            audit.record(world["admin"], "factory", factory.id, "update", {"address": (n, n + 1)})
    db.session.commit()
    client = app.test_client(user=world["admin"])
    first = client.get(f"/factories/{factory.id}/history").get_data(as_text=True)
    assert 'rel="next"' in first
    after = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(after).get_data(as_text=True)
    first_ids = set(first.split('data-entry-id="')[1:])
    second_ids = set(second.split('data-entry-id="')[1:])
    assert second_ids and not first_ids & second_ids


def test_a_bulk_figure_import_names_the_factory(world):
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.record_type == "metric_snapshot")
    ).all()
    assert entries and all(entry.factory_id == world["factory"].id for entry in entries)


def test_the_history_tab_marks_a_contacts_personal_fields(app, world):

    edits.add_contact(
        world["taker"], world["factory"], name="Wang Li", phone="13800001234", now=NOW
    )
    db.session.commit()
    client = app.test_client(user=world["taker"])
    page = entries_part(
        client.get(f"/factories/{world['factory'].id}/history").get_data(as_text=True)
    )
    contact = page.split("Contact #", 1)[1].split("</li>", 1)[0]
    assert "Wang Li" in contact and 'badge badge-muted">personal' in contact
