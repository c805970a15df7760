"""API: metric snapshots (list, enter one or a batch) and stage changes (list, request, decide)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm import clock, scope
from crm.extensions import db
from crm.models import MetricSnapshot, StageChange
from crm.services.growth import promotions, snapshots
from crm.views.api import actor, answer, bp, read_body, read_query
from crm.views.api.as_json import listed, page_json, snapshot_json, stage_change_json
from crm.views.api.shapes import parse_body
from crm.views.api.spec import bodies

# --- metric snapshots -----------------------------------------------------------------------


@bp.route("/snapshots")
@scope.allow("staff")
def list_snapshots():
    query = read_query()
    narrowing = {"factory_id": MetricSnapshot.factory_id, "metric": MetricSnapshot.metric_code}
    page = listed(scope.snapshots(actor(), clock.today()), MetricSnapshot.id, query, narrowing)
    return answer(page_json(page, snapshot_json))


@bp.route("/factories/<int:factory_id>/snapshots", methods=["POST"])
@scope.allow("staff")
def create_snapshot(factory_id: int):
    factory = scope.get_factory(actor(), factory_id, clock.today())
    values = parse_body(bodies.SNAPSHOT_CREATE, read_body())
    month = snapshots.month_start(values["month"])
    existed = db.session.scalar(
        select(MetricSnapshot.id).where(
            MetricSnapshot.factory_id == factory.id,
            MetricSnapshot.metric_code == values["metric"],
            MetricSnapshot.month == month,
        )
    )
    snapshot = snapshots.record_snapshot(
        actor(), factory, values["metric"], month, values["value"], clock.now()
    )
    db.session.commit()
    return answer(snapshot_json(snapshot), 200 if existed else 201)


@bp.route("/snapshots:batch", methods=["POST"])
@scope.allow("staff")
def create_snapshot_batch():
    values = parse_body(bodies.SNAPSHOT_BATCH, read_body())
    figures = [
        snapshots.Figure(item["factory_id"], item["metric"], item["month"], item["value"])
        for item in values["items"]
    ]
    recorded = snapshots.record_figures(actor(), figures, clock.now())
    created = sum(1 for item in recorded if item.created)
    # Read before the commit, which expires the rows: a thousand of them would be read again.
    payload = {
        "items": [snapshot_json(item.snapshot) for item in recorded],
        "created": created,
        "replaced": len(recorded) - created,
    }
    db.session.commit()
    return answer(payload, 201 if created else 200)


# --- stage changes --------------------------------------------------------------------------


@bp.route("/stage-changes")
@scope.allow("staff")
def list_stage_changes():
    query = read_query()
    statement = scope.stage_changes(actor(), clock.today()).options(
        selectinload(StageChange.requested_by), selectinload(StageChange.decided_by)
    )
    narrowing = {"factory_id": StageChange.factory_id, "decision": StageChange.decision}
    page = listed(statement, StageChange.id, query, narrowing)
    return answer(page_json(page, stage_change_json))


@bp.route("/factories/<int:factory_id>/stage-changes", methods=["POST"])
@scope.allow("staff")
def request_stage_change(factory_id: int):
    factory = scope.get_factory(actor(), factory_id, clock.today())
    values = parse_body(bodies.STAGE_CHANGE_CREATE, read_body())
    change = promotions.request_change(
        actor(),
        factory,
        values["to_status"],
        values.get("to_stage"),
        values.get("reason", ""),
        clock.now(),
    )
    db.session.commit()
    return answer(stage_change_json(change), 201)


@bp.route("/stage-changes/<int:change_id>/decision", methods=["POST"])
@scope.allow("manage")
def decide_stage_change(change_id: int):
    change = scope.get_stage_change(actor(), change_id, clock.today())
    values = parse_body(bodies.STAGE_DECISION, read_body())
    promotions.decide(
        actor(),
        change,
        values["approve"],
        values.get("note", ""),
        clock.now(),
        override=bool(values.get("override")),
    )
    db.session.commit()
    return answer(stage_change_json(change))
