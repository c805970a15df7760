"""Demo data, last part: the planned rows written in bulk, their references resolved to ids."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Table, func, insert, select
from sqlalchemy.orm import InstrumentedAttribute

from crm.demo.factories import FactoryPlan
from crm.extensions import db
from crm.models import Contact, Factory, FollowUp, MetricSnapshot, StageChange, Task, Visit


def store_plans(plans: list[FactoryPlan]) -> dict[str, int]:
    """Factories first, then the rows that point at them; returns how many of each went in."""
    factory_ids = insert_rows(Factory, [plan.row for plan in plans], (Factory.credit_code,))
    contacts = []
    for plan, factory_id in zip(plans, factory_ids, strict=True):
        plan.id = factory_id
        created = plan.row["created_at"]
        contacts.extend(
            dict(row, factory_id=factory_id, created_at=created) for row in plan.contacts
        )
    contact_ids = insert_rows(Contact, contacts, (Contact.factory_id, Contact.phone))
    visits, first_contact = [], 0
    for plan in plans:
        for visit in plan.visits:
            met = contact_ids[first_contact] if visit["contact_id"] == 0 else None
            visits.append(dict(visit, factory_id=plan.id, contact_id=met))
        first_contact += len(plan.contacts)
    visit_ids = iter(insert_rows(Visit, visits, (Visit.rep_id, Visit.client_key)))
    rows: dict[type, list[dict]] = {FollowUp: [], Task: [], MetricSnapshot: [], StageChange: []}
    for plan in plans:
        ids = [next(visit_ids) for _ in plan.visits]
        for row in plan.follow_ups:
            done_by = row["completed_by_visit_id"]  # the visit's place in plan.visits
            done_by = None if done_by is None else ids[done_by]
            rows[FollowUp].append(dict(row, factory_id=plan.id, completed_by_visit_id=done_by))
        for model, planned in (
            (Task, plan.tasks),
            (MetricSnapshot, plan.snapshots),
            (StageChange, plan.stage_changes),
        ):
            rows[model].extend(dict(row, factory_id=plan.id) for row in planned)
    for model, planned in rows.items():
        insert_rows(model, planned)
    counts = {"factories": len(plans), "visits": len(visits)}
    counts.update(tasks=len(rows[Task]), snapshots=len(rows[MetricSnapshot]))
    counts.update(follow_ups=len(rows[FollowUp]), stage_changes=len(rows[StageChange]))
    return counts


def insert_rows(
    model: type, rows: list[dict], keys: tuple[InstrumentedAttribute, ...] = ()
) -> list[int]:
    """One bulk INSERT of the rows; given unique key columns, the new ids in the rows' order.

    The ids are read back by those keys rather than with RETURNING: SQLite cannot return
    the ids of a multi-row insert in order, so SQLAlchemy would send one row at a time.
    """
    if not rows:
        return []
    before = db.session.scalar(select(func.max(model.id))) or 0
    if db.session.get_bind().dialect.name == "postgresql":
        _copy_rows(model.__table__, rows)
    else:
        # A Core executemany on the table: every row names every column, so it is one batch,
        # and it skips the ORM's per-row bookkeeping (a third of the time at 20,000 factories).
        db.session.execute(insert(model.__table__), rows)
    if not keys:
        return []
    found = {
        tuple(found_row[:-1]): found_row[-1]
        for found_row in db.session.execute(select(*keys, model.id).where(model.id > before))
    }
    return [found[tuple(row[key.key] for key in keys)] for row in rows]


def _copy_rows(table: Table, rows: list[dict]) -> None:
    """PostgreSQL's COPY on the session's own connection (and transaction): several times
    quicker than a batch of INSERTs for the million visits of `--factories 100000`.

    Each value goes through its column's bind processing, as an INSERT would; a column the
    rows leave out takes its Python default, or the table's own default when it has none.
    """
    dialect = db.session.get_bind().dialect
    named = [column for column in table.columns if column.key in rows[0]]
    defaulted = [
        column
        for column in table.columns
        if column.key not in rows[0] and column.default is not None and not column.primary_key
    ]
    processors = [column.type.bind_processor(dialect) for column in named]
    processed = [(place, process) for place, process in enumerate(processors) if process]
    fixed = tuple(
        process(value) if (process := column.type.bind_processor(dialect)) else value
        for column, value in ((column, _default_value(column)) for column in defaulted)
    )
    values_of = itemgetter(*(column.key for column in named))
    names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in named + defaulted)
    cursor = db.session.connection().connection.driver_connection.cursor()
    statement = f"COPY {dialect.identifier_preparer.format_table(table)} ({names}) FROM STDIN"
    with cursor.copy(statement) as copy:
        for row in rows:
            values = list(values_of(row)) if len(named) > 1 else [row[named[0].key]]
            for place, process in processed:
                values[place] = process(values[place])
            copy.write_row((*values, *fixed))


def _default_value(column: Column) -> Any:
    default = column.default
    if default.is_callable:
        return default.arg(None)
    return default.arg
