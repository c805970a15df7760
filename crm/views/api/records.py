"""API: visits (list, read), follow-ups (list, plan, complete, cancel) and checklist items
(list, read, change status, hand in evidence), all through the scoped queries."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from crm import clock, scope
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.models import FollowUp, Task, Visit
from crm.services.field import followups
from crm.services.growth import tasks
from crm.services.portal import evidence
from crm.views.api import actor, answer, bp, read_body, read_query
from crm.views.api.as_json import follow_up_json, listed, page_json, task_json, visit_json
from crm.views.api.shapes import parse_body
from crm.views.api.spec import bodies

# --- visits ---------------------------------------------------------------------------------


@bp.route("/visits")
@scope.allow("staff")
def list_visits():
    query = read_query()
    statement = scope.visits(actor(), clock.today()).options(
        selectinload(Visit.rep), selectinload(Visit.tasks), selectinload(Visit.photos)
    )
    page = listed(statement, Visit.id, query, {"factory_id": Visit.factory_id})
    return answer(page_json(page, visit_json))


@bp.route("/visits/<int:visit_id>")
@scope.allow("staff")
def get_visit(visit_id: int):
    return answer(visit_json(scope.get_visit(actor(), visit_id, clock.today())))


# --- follow-ups -----------------------------------------------------------------------------


@bp.route("/follow-ups")
@scope.allow("staff")
def list_follow_ups():
    query = read_query()
    statement = scope.follow_ups(actor(), clock.today()).options(selectinload(FollowUp.assignee))
    narrowing = {"factory_id": FollowUp.factory_id, "status": FollowUp.status}
    page = listed(statement, FollowUp.id, query, narrowing)
    return answer(page_json(page, follow_up_json))


@bp.route("/factories/<int:factory_id>/follow-ups", methods=["POST"])
@scope.allow("staff")
def create_follow_up(factory_id: int):
    factory = scope.get_factory(actor(), factory_id, clock.today())
    values = parse_body(bodies.FOLLOW_UP_CREATE, read_body())
    follow_up = followups.schedule(
        actor(), factory, values["due_on"], values.get("reason", ""), clock.now()
    )
    db.session.commit()
    return answer(follow_up_json(follow_up), 201)


@bp.route("/follow-ups/<int:follow_up_id>/complete", methods=["POST"])
@scope.allow("staff")
def complete_follow_up(follow_up_id: int):
    follow_up = scope.get_follow_up(actor(), follow_up_id, clock.today())
    followups.complete(actor(), follow_up, clock.now())
    db.session.commit()
    return answer(follow_up_json(follow_up))


@bp.route("/follow-ups/<int:follow_up_id>/cancel", methods=["POST"])
@scope.allow("staff")
def cancel_follow_up(follow_up_id: int):
    follow_up = scope.get_follow_up(actor(), follow_up_id, clock.today())
    followups.cancel(actor(), follow_up, clock.now())
    db.session.commit()
    return answer(follow_up_json(follow_up))


# --- checklist items ------------------------------------------------------------------------


@bp.route("/tasks")
@scope.allow("signed_in")
def list_tasks():
    query = read_query()
    statement = scope.tasks(actor(), clock.today()).options(
        selectinload(Task.owner), selectinload(Task.verified_by)
    )
    page = listed(statement, Task.id, query, {"factory_id": Task.factory_id, "status": Task.status})
    viewer = actor()
    return answer(page_json(page, lambda task: task_json(task, viewer)))


@bp.route("/tasks/<int:task_id>")
@scope.allow("signed_in")
def get_task(task_id: int):
    return answer(task_json(scope.get_task(actor(), task_id, clock.today()), actor()))


# The services name the reason after the action; the API has one field for it.
REASON_FIELDS = ("waive_reason", "send_back_reason")


@bp.route("/tasks/<int:task_id>", methods=["PATCH"])
@scope.allow("staff")
def update_task(task_id: int):
    task = scope.get_task(actor(), task_id, clock.today())
    values = parse_body(bodies.TASK_UPDATE, read_body())
    status, reason, now = values["status"], values.get("reason", ""), clock.now()
    try:
        if status == "done":
            if task.status == "done":
                raise Conflict(_("This item is done already; nothing was changed."))
            tasks.complete(actor(), task, now)
        elif status == "waived":
            tasks.waive(actor(), task, reason, now)
        elif task.status == "submitted" and reason.strip():
            tasks.send_back(actor(), task, reason, now)
        else:
            tasks.reopen(actor(), task, now)
    except Invalid as error:
        fields = {
            "reason" if name in REASON_FIELDS else name: text for name, text in error.fields.items()
        }
        raise Invalid(error.message, fields=fields) from None
    db.session.commit()
    return answer(task_json(task, actor()))


EVIDENCE_FIELDS = {"evidence_link": "link", "evidence_number": "number", "evidence_note": "note"}


@bp.route("/tasks/<int:task_id>/evidence", methods=["POST"])
@scope.allow("factory")
def submit_evidence(task_id: int):
    task = scope.get_task(actor(), task_id, clock.today())
    values = parse_body(bodies.EVIDENCE, read_body())
    try:
        evidence.hand_in(
            actor(),
            task,
            values.get("link"),
            values.get("number"),
            values.get("note"),
            None,
            clock.now(),
        )
    except Invalid as error:
        fields = {EVIDENCE_FIELDS.get(name, name): text for name, text in error.fields.items()}
        raise Invalid(error.message, fields=fields) from None
    db.session.commit()
    return answer(task_json(task, actor()))
