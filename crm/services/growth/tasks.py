"""Moving checklist tasks forward: tick, reopen, waive, hand in evidence, accept or send back."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _

from crm import scope
from crm.errors import Conflict, Invalid, NotAllowed, too_long
from crm.extensions import db
from crm.models import Factory, Task, User
from crm.models.stage import TITLE_MAX
from crm.models.task import REASON_MAX, URL_MAX
from crm.services.growth import eligibility
from crm.services.growth.snapshots import parse_value
from crm.services.install import audit

TRACKED = (
    "status",
    "waive_reason",
    "evidence_link",
    "evidence_number",
    "evidence_note",
    "evidence_file",
    "send_back_reason",
    "shoot_on",
    "video_url",
    "due_on",
    "owner_id",
)


def _snapshot(task: Task) -> dict:
    return {name: getattr(task, name) for name in TRACKED}


def _finish(actor: User, task: Task, before: dict, action: str, now: datetime) -> Task:
    task.updated_at = now
    db.session.flush()
    audit.record(actor, "task", task.id, action, audit.diff(before, _snapshot(task)))
    eligibility.refresh(task.factory, now)
    return task


def _reason(text: str | None, field: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise Invalid(message, fields={field: message})
    if len(text) > REASON_MAX:
        message = too_long(_("Reason"), REASON_MAX)
        raise Invalid(message, fields={field: message})
    return text


def _link(url: str | None, field: str) -> str | None:
    url = (url or "").strip()
    if not url:
        return None
    if len(url) > URL_MAX or not url.startswith(("https://", "http://")):
        message = _("Enter a web address starting with https://")
        raise Invalid(message, fields={field: message})
    return url


def complete(actor: User, task: Task, now: datetime) -> Task:
    """Staff tick a task done (a measured task is judged, never ticked)."""
    scope.require(actor, "advance_task")
    if task.kind == "measured":
        message = _("A measured item is judged from the factory's figures; enter figures instead.")
        raise Invalid(message, fields={"status": message})
    before = _snapshot(task)
    task.status, task.completed_at = "done", now
    task.verified_by_id, task.verified_at = actor.id, now
    return _finish(actor, task, before, "complete", now)


def reopen(actor: User, task: Task, now: datetime) -> Task:
    scope.require(actor, "advance_task")
    if task.status == "waived" and task.required:
        scope.require(actor, "waive_required_task")
    before = _snapshot(task)
    task.status, task.completed_at, task.waive_reason = "open", None, None
    return _finish(actor, task, before, "reopen", now)


def waive(actor: User, task: Task, reason: str, now: datetime) -> Task:
    """Waive a task with a reason; a required one only by a manager or admin."""
    scope.require(actor, "advance_task")
    if task.required and not scope.may(actor, "waive_required_task"):
        raise NotAllowed(_("Only a manager or admin waives a required item."))
    before = _snapshot(task)
    task.waive_reason = _reason(reason, "waive_reason", _("Say why this item is waived."))
    task.status, task.completed_at = "waived", now
    return _finish(actor, task, before, "waive", now)


def hand_in(
    actor: User,
    task: Task,
    link: str | None,
    number: str | None,
    note: str | None,
    now: datetime,
    photo: str | None = None,
) -> Task:
    """The factory hands in evidence; staff then accept it or send it back.

    `photo` is the stored name of a photo already checked and kept (crm.services.portal.evidence).
    """
    scope.require(actor, "hand_in_evidence")
    if task.is_closed:
        # The item's state changed under the factory (staff closed it): a clash, as when
        # staff tick an item done twice, not a field to correct.
        message = _("This item is closed already.")
        raise Conflict(message, fields={"status": message})
    if task.kind == "measured":
        # Judged from the monthly figures the rep enters, never from a number handed in.
        message = _(
            "This item is judged from your factory's monthly figures, which your rep enters: "
            "it takes no evidence."
        )
        raise Invalid(message, fields={"evidence_link": message})
    before = _snapshot(task)
    task.evidence_link = _link(link, "evidence_link")
    try:
        task.evidence_number = parse_value(number) if (number or "").strip() else None
    except Invalid as error:
        message = error.fields.get("value", error.message)
        raise Invalid(message, fields={"evidence_number": message}) from None
    task.evidence_note = (note or "").strip()[:REASON_MAX] or None
    task.evidence_file = photo
    handed = task.evidence_link or task.evidence_number is not None or task.evidence_note
    if not (handed or photo):
        message = _("Add a link, a number, a note or a photo as evidence.")
        raise Invalid(message, fields={"evidence_link": message})
    task.status, task.send_back_reason = "submitted", None
    return _finish(actor, task, before, "hand_in", now)


def send_back(actor: User, task: Task, reason: str, now: datetime) -> Task:
    scope.require(actor, "advance_task")
    before = _snapshot(task)
    task.send_back_reason = _reason(
        reason, "send_back_reason", _("Say what the factory should change.")
    )
    task.status = "open"
    return _finish(actor, task, before, "send_back", now)


def record_video(
    actor: User, task: Task, shoot_on: date | None, video_url: str | None, now: datetime
) -> Task:
    """A video shoot's date and, once delivered, its link (which completes the task)."""
    scope.require(actor, "advance_task")
    if task.kind != "video_shoot":
        message = _("Only a video shoot has a shoot date and a video link.")
        raise Invalid(message, fields={"video_url": message})
    before = _snapshot(task)
    task.shoot_on = shoot_on or task.shoot_on
    task.video_url = _link(video_url, "video_url") or task.video_url
    if task.video_url:
        task.status, task.completed_at = "done", now
    return _finish(actor, task, before, "video", now)


def add_ad_hoc(
    actor: User, factory: Factory, title: str, due_on: date | None, now: datetime
) -> Task:
    """An ad-hoc task of the factory's current stage: optional, owned by the factory's rep."""
    scope.require(actor, "advance_task")
    title = (title or "").strip()
    if not title or len(title) > TITLE_MAX:
        message = _("Enter a title of 1 to %(count)d characters.", count=TITLE_MAX)
        raise Invalid(message, fields={"title": message})
    task = Task(
        factory_id=factory.id,
        stage=factory.stage,
        title_en=title,
        title_zh=title,
        kind="custom",
        required=False,
        owner_id=factory.owner_id or actor.id,
        due_on=due_on,
        status="open",
        created_at=now,
        updated_at=now,
    )
    db.session.add(task)
    db.session.flush()
    task.factory = factory
    audit.record(actor, "task", task.id, "create", {"title_en": (None, title)})
    return task
