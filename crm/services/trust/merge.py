"""One factory, one row (issue 22, "One factory, one row"): two rows found to be one factory are
merged. The kept one takes every record of the other; the other's row is then deleted, and a
FactoryMerge keeps its old id pointing at the kept one (its link redirects, an outbox visit
addressed to it lands on the kept one: `resolve`).

Where both have a record of the same thing, the kept one's wins: a task of the same template
(the other's evidence is copied onto it where the kept one has none, and the visits that ticked
it point at the kept task), a figure of the same metric and month (the other's is written into
the merge's audit entry). The other's pending stage requests are refused as merged: they were
asked from the other's stage. `MOVED` names every table with a factory key and how it moves, so
that a new one fails tests/unit/test_factory_merge.py until the merge handles it.

An admin, or a manager who leads both factories' belts, merges; one transaction, audited, the
owning reps told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update

from crm import clock, scope
from crm.errors import Invalid, NotAllowed
from crm.extensions import db
from crm.models import (
    Contact,
    Factory,
    FactoryClosure,
    FactoryMerge,
    FollowUp,
    Invitation,
    MetricSnapshot,
    Notification,
    RoutePlan,
    StageChange,
    Task,
    User,
    Visit,
    visit_tasks,
)
from crm.services.field import followups
from crm.services.install import audit
from crm.services.notices import notifications

# Every table with a key to factories, and how the merge treats it: "moved" (the key is set to
# the kept factory), or the name of the step that handles it.
MOVED = {
    "contacts": "moved",
    "factory_closures": "moved",
    "follow_ups": "moved",
    "invitations": "moved",
    "notifications": "moved",
    "visits": "moved",
    "users": "moved",  # the factory's own users
    "stage_changes": "pending refused, then moved",
    "tasks": "kept's wins by template",
    "metric_snapshots": "kept's wins by metric and month",
    "factory_merges": "earlier merges follow to the kept one",
    "factories": "the other's row deleted",  # merged_into_id, the self key, is not used
}
_PLAIN = (Contact, FactoryClosure, FollowUp, Invitation, Notification, Visit)
# Evidence the kept task takes from the other's when it has none of its own.
_EVIDENCE = ("evidence_link", "evidence_number", "evidence_file", "evidence_note", "video_url")


@dataclass
class Merged:
    kept: Factory
    merged_id: int
    moved: dict[str, int]  # per table, how many rows moved


def check(actor: User, kept: Factory | None, other: Factory | None) -> None:
    """Refuse what cannot be merged, with a message by the field."""
    if kept is None or other is None:
        message = _("Choose the two factories to merge.")
        raise Invalid(message, fields={"other_id" if kept else "kept_id": message})
    if kept.id == other.id:
        message = _("A factory cannot be merged with itself; choose another one.")
        raise Invalid(message, fields={"other_id": message})
    if not may_merge(actor, [kept, other]):
        raise NotAllowed(_("Only an admin, or a manager who leads both factories' belts, merges."))


def may_merge(actor: User, factories: list[Factory]) -> bool:
    """An admin merges any factories; a manager those of the belts they lead (their scope)."""
    if actor.role == "admin":
        return True
    if actor.role != "manager" or any(factory.belt_id is None for factory in factories):
        return False
    ids = [factory.id for factory in factories]
    return len(scope.get_factories(actor, ids, clock.today())) == len(set(ids))


def merge(actor: User, kept: Factory, other: Factory, now: datetime) -> Merged:
    """Move every record of `other` to `kept`, then delete `other` (not committed)."""
    check(actor, kept, other)
    moved: dict[str, int] = {}
    other_id, other_name, other_owner = other.id, other.name, other.owner
    for model in _PLAIN:
        result = db.session.execute(
            update(model).where(model.factory_id == other_id).values(factory_id=kept.id)
        )
        moved[model.__tablename__] = result.rowcount
    moved["users"] = db.session.execute(
        update(User).where(User.factory_id == other_id).values(factory_id=kept.id)
    ).rowcount
    moved["stage_changes"] = _stage_changes(actor, other_id, kept, now)
    moved["tasks"] = _tasks(other_id, kept)
    dropped = _snapshots(other_id, kept)
    moved["metric_snapshots"] = dropped.pop("moved")
    moved["factory_merges"] = db.session.execute(
        update(FactoryMerge).where(FactoryMerge.kept_id == other_id).values(kept_id=kept.id)
    ).rowcount
    _route_plans(other_id, kept.id, now)
    _keep_figures(kept, other)
    db.session.add(
        FactoryMerge(
            merged_id=other_id,
            merged_name=other_name,
            kept_id=kept.id,
            merged_by_id=actor.id,
            merged_at=now,
        )
    )
    db.session.flush()
    db.session.expunge(other)
    db.session.execute(delete(Factory).where(Factory.id == other_id))
    followups.refresh_next(kept)
    audit.record(
        actor,
        "factory",
        kept.id,
        "merge",
        {
            "merged_id": (other_id, None),
            "merged_name": (other_name, None),
            **{f"figure {key}": (value, None) for key, value in dropped.items()},
        },
        factory_id=kept.id,
    )
    notifications.notify(
        [kept.owner, other_owner],
        "factory_merged",
        lambda: _("%(other)s was merged into %(kept)s", other=other_name, kept=kept.name),
        factory=kept,
        link=f"/factories/{kept.id}",
    )
    db.session.flush()
    return Merged(kept, other_id, moved)


def record_counts(factory_ids: list[int]) -> dict[int, dict[str, int]]:
    """What each factory holds of what the confirmation names: visits, tasks, contacts and
    follow-ups, by table, one grouped read per table."""
    counts = {factory_id: dict.fromkeys(COUNTED_NAMES, 0) for factory_id in factory_ids}
    for model in (Visit, Task, Contact, FollowUp):
        for factory_id, number in db.session.execute(
            select(model.factory_id, func.count())
            .where(model.factory_id.in_(factory_ids))
            .group_by(model.factory_id)
        ):
            counts[factory_id][model.__tablename__] = number
    return counts


COUNTED_NAMES = ("visits", "tasks", "contacts", "follow_ups")


def resolve(factory_id: int) -> int | None:
    """The factory an old id now is: the kept one of a merge, or none if it never merged."""
    return scope.merged_into(factory_id)


def _stage_changes(actor: User, other_id: int, kept: Factory, now: datetime) -> int:
    """The other's history joins the kept one's; its pending requests are refused as merged."""
    note = _("Merged into %(kept)s; ask again there if still needed.", kept=kept.name)
    db.session.execute(
        update(StageChange)
        .where(StageChange.factory_id == other_id, StageChange.decision == "pending")
        .values(decision="refused", decided_by_id=actor.id, decided_at=now, decision_note=note)
    )
    return db.session.execute(
        update(StageChange).where(StageChange.factory_id == other_id).values(factory_id=kept.id)
    ).rowcount


def _tasks(other_id: int, kept: Factory) -> int:
    """The other's tasks move, but where the kept one has a task of the same template: that one
    wins, takes the other's evidence where it has none, and the visits that ticked the other's."""
    kept_tasks = {
        task.template_id: task
        for task in db.session.scalars(
            select(Task).where(Task.factory_id == kept.id, Task.template_id.is_not(None))
        )
    }
    moved = 0
    for task in db.session.scalars(select(Task).where(Task.factory_id == other_id)).all():
        twin = kept_tasks.get(task.template_id) if task.template_id is not None else None
        if twin is None:
            task.factory_id = kept.id
            moved += 1
            continue
        for name in _EVIDENCE:
            if getattr(twin, name) is None and getattr(task, name) is not None:
                setattr(twin, name, getattr(task, name))
        ticked = select(visit_tasks.c.visit_id).where(visit_tasks.c.task_id == twin.id)
        db.session.execute(
            update(visit_tasks)
            .where(visit_tasks.c.task_id == task.id, visit_tasks.c.visit_id.not_in(ticked))
            .values(task_id=twin.id)
        )
        db.session.flush()
        db.session.delete(task)
    db.session.flush()
    return moved


def _snapshots(other_id: int, kept: Factory) -> dict[str, object]:
    """Figures move, but a month and metric the kept one has keeps the kept one's figure; the
    other's is returned for the audit entry ("metric month": value)."""
    kept_months = set(
        db.session.execute(
            select(MetricSnapshot.metric_code, MetricSnapshot.month).where(
                MetricSnapshot.factory_id == kept.id
            )
        ).all()
    )
    dropped: dict[str, object] = {}
    moved = 0
    for snapshot in db.session.scalars(
        select(MetricSnapshot).where(MetricSnapshot.factory_id == other_id)
    ).all():
        if (snapshot.metric_code, snapshot.month) in kept_months:
            dropped[f"{snapshot.metric_code} {snapshot.month:%Y-%m}"] = str(snapshot.value)
            db.session.delete(snapshot)
        else:
            snapshot.factory_id = kept.id
            moved += 1
    db.session.flush()
    return {**dropped, "moved": moved}


def _route_plans(other_id: int, kept_id: int, now: datetime) -> None:
    """A route planned from today on through the other factory goes through the kept one
    (once); a past day's route stays as it was walked."""
    today = clock.today(now)
    for plan in db.session.scalars(select(RoutePlan).where(RoutePlan.day >= today)).all():
        if other_id in plan.factory_ids:
            ids: list[int] = []
            for factory_id in plan.factory_ids:
                chosen = kept_id if factory_id == other_id else factory_id
                if chosen not in ids:
                    ids.append(chosen)
            plan.factory_ids = ids


def _keep_figures(kept: Factory, other: Factory) -> None:
    """The kept factory's figures kept for lists, now over both factories' records, and its
    place if only the other was placed."""
    if other.last_visit_at and (
        kept.last_visit_at is None or kept.last_visit_at < other.last_visit_at
    ):
        kept.last_visit_at = other.last_visit_at
    if kept.lat is None and other.lat is not None:
        kept.lat, kept.lng = other.lat, other.lng
