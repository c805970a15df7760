"""The audit log viewer: filters narrow a seeded log to known ids, keyset pages stay stable when
times are equal, export, and an audit row that the ORM refuses to edit or delete."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from crm.extensions import db
from crm.models import AuditEntry
from crm.models.history import AuditLocked
from crm.services.accounts import auth
from crm.services.install import audit_log, audit_retention
from tests import builders

SAME = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db_session):
    admin, rep = builders.user("admin"), builders.user("rep")
    seeded = {}

    def entry(key, at, **fields):
        row = AuditEntry(at=at, **{"changes": {}, "personal_fields": [], **fields})
        db_session.add(row)
        db_session.flush()
        seeded[key] = row.id

    entry(
        "rep_factory",
        SAME,
        actor_id=rep.id,
        record_type="factory",
        record_id=7,
        action="update",
        changes={"name": ["Old", "New"]},
    )
    entry(
        "admin_user",
        SAME,
        actor_id=admin.id,
        record_type="user",
        record_id=rep.id,
        action="update",
        changes={"email": ["a@example.test", "b@example.test"]},
        personal_fields=["email"],
    )
    entry(
        "job_followup",
        SAME - timedelta(days=3),
        actor_job="cadence_sweep",
        record_type="follow_up",
        record_id=7,
        action="create",
    )
    entry(
        "admin_factory",
        SAME - timedelta(days=10),
        actor_id=admin.id,
        record_type="factory",
        record_id=8,
        action="reassign",
        changes={"owner_id": [1, 2]},
    )
    db_session.commit()
    return {"admin": admin, "rep": rep, "ids": seeded}


def ids_for(**filters) -> set[int]:
    entries, _cursor = audit_log.page(audit_log.AuditFilters(**filters), size=100)
    return {entry.id for entry in entries}


def test_filters_narrow_a_seeded_log_to_known_ids(world):
    ids = world["ids"]
    assert ids_for(actor=str(world["rep"].id)) == {ids["rep_factory"]}
    assert ids_for(actor=world["admin"].email) == {ids["admin_user"], ids["admin_factory"]}
    assert ids_for(actor="cadence_sweep") == {ids["job_followup"]}
    assert ids_for(record_type="factory") == {ids["rep_factory"], ids["admin_factory"]}
    assert ids_for(record_id=7) == {ids["rep_factory"], ids["job_followup"]}
    assert ids_for(record_type="factory", record_id=7) == {ids["rep_factory"]}
    assert ids_for(action="reassign") == {ids["admin_factory"]}
    assert ids_for(since=date(2026, 11, 15)) == {
        ids["rep_factory"],
        ids["admin_user"],
        ids["job_followup"],
    }
    assert ids_for(until=date(2026, 11, 15)) == {ids["admin_factory"]}


def test_paging_stays_stable_when_times_are_equal(db_session):
    actor = builders.user("admin")
    made = []
    for n in range(7):
        row = AuditEntry(
            at=SAME, actor_id=actor.id, record_type="tie", record_id=n, action="update"
        )
        db_session.add(row)
        db_session.flush()
        made.append(row.id)
    db_session.commit()
    seen, cursor, filters = [], None, audit_log.AuditFilters(record_type="tie")
    while True:
        entries, cursor = audit_log.page(filters, cursor, size=3)
        seen += [entry.id for entry in entries]
        if cursor is None:
            break
    assert seen == sorted(made, reverse=True)  # every entry once, in one order


def test_the_page_shows_before_and_after_and_pages_by_keyset(app, world, db_session):
    auth.start_session(world["admin"], "test", "127.0.0.1")
    client = app.test_client(user=world["admin"])
    db_session.commit()
    page = client.get("/admin/audit?record_type=user").get_data(as_text=True)
    assert "a@example.test" in page and "b@example.test" in page and "personal" in page
    assert f'data-entry-id="{world["ids"]["rep_factory"]}"' not in page
    assert client.get("/admin/audit?after=garbage&since=not-a-date").status_code == 422


def test_the_filtered_log_exports_as_csv(app, world, db_session):
    auth.start_session(world["admin"], "test", "127.0.0.1")
    client = app.test_client(user=world["admin"])
    db_session.commit()
    response = client.get("/admin/audit/export?format=csv&record_type=factory")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["id", "at", "actor_id"]
    assert {int(row[0]) for row in rows[1:]} == {
        world["ids"]["rep_factory"],
        world["ids"]["admin_factory"],
    }
    xlsx = client.get("/admin/audit/export?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_the_orm_refuses_to_edit_or_delete_an_audit_row(world):
    entry = db.session.get(AuditEntry, world["ids"]["rep_factory"])
    entry.action = "tampered"
    with pytest.raises(AuditLocked):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, world["ids"]["rep_factory"]))
    with pytest.raises(AuditLocked):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(AuditLocked):
        db.session.execute(update(AuditEntry).values(action="tampered"))
    with pytest.raises(AuditLocked):
        db.session.execute(delete(AuditEntry))
    db.session.rollback()
    assert db.session.get(AuditEntry, world["ids"]["rep_factory"]).action == "update"


def test_the_retention_service_erases_marked_fields_and_audits_itself(world):
    changed = audit_retention.erase_personal(world["admin"], world["rep"].id)
    db.session.commit()
    assert changed == 1
    entry = db.session.get(AuditEntry, world["ids"]["admin_user"])
    assert entry.changes == {"email": ["[erased]", "[erased]"]}
    own = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "erase_personal"))
    assert own.actor_id == world["admin"].id and own.changes["entries"] == [None, 1]


def test_the_retention_service_expires_entries_past_retention_and_audits_itself(world):
    now = SAME + timedelta(days=1825 - 5)  # the oldest seeded entry is 10 days before SAME
    count = audit_retention.expire("audit_retention", now)
    db.session.commit()
    assert count == 1
    left = db.session.scalars(select(AuditEntry.id).where(AuditEntry.record_type != "audit_entry"))
    assert set(left) == set(world["ids"].values()) - {world["ids"]["admin_factory"]}
    own = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "expire"))
    assert own.actor_job == "audit_retention" and own.changes["entries"] == [None, 1]
