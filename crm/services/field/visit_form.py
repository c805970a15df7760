"""What the visit form offers: the user's factories with their open tasks, follow-up and contacts.

The same data feeds the page (for the factory it opens on) and the phone's cached list
(for every factory, so that the form works offline); three queries whatever the count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from crm import scope
from crm.extensions import db
from crm.models import Contact, Factory, FollowUp, Task, User

# Managers and admins reach the form from a factory's page; a rep's list is their patch.
LISTS_ALL = frozenset({"rep"})


@dataclass
class FactoryChoice:
    id: int
    name: str
    stage: str | None
    status: str
    lat: float | None = None
    lng: float | None = None
    owned: bool = False  # the user's own: its page is kept on the phone for offline use
    tasks: list[Task] = field(default_factory=list)
    follow_up: FollowUp | None = None
    contacts: list[Contact] = field(default_factory=list)


def choices(user: User, on: date, factory_id: int | None = None) -> list[FactoryChoice]:
    """The factories the user may log a visit at: a rep's whole scope, otherwise the one asked."""
    query = scope.factories(user, on).where(Factory.status != "churned")
    if user.role not in LISTS_ALL:
        if factory_id is None:
            return []
        query = query.where(Factory.id == factory_id)
    rows = db.session.execute(
        query.with_only_columns(
            Factory.id,
            Factory.name,
            Factory.stage,
            Factory.status,
            Factory.lat,
            Factory.lng,
            Factory.owner_id,
        ).order_by(Factory.name, Factory.id)
    ).all()
    found = {
        row.id: FactoryChoice(
            row.id, row.name, row.stage, row.status, row.lat, row.lng, row.owner_id == user.id
        )
        for row in rows
    }
    if not found:
        return []
    ids = list(found)
    for task in db.session.scalars(
        select(Task)
        .where(
            Task.factory_id.in_(ids),
            Task.status.in_(("open", "submitted")),
            Task.kind != "measured",
        )
        .order_by(Task.factory_id, Task.due_on, Task.id)
    ):
        if task.stage == found[task.factory_id].stage:
            found[task.factory_id].tasks.append(task)
    for follow_up in db.session.scalars(
        select(FollowUp)
        .where(FollowUp.factory_id.in_(ids), FollowUp.status == "open")
        .order_by(FollowUp.factory_id, FollowUp.due_at.desc())
    ):
        found[follow_up.factory_id].follow_up = follow_up  # ends on the oldest open one
    for contact in db.session.scalars(
        select(Contact).where(Contact.factory_id.in_(ids)).order_by(Contact.name, Contact.id)
    ):
        found[contact.factory_id].contacts.append(contact)
    return list(found.values())


def as_json(choice: FactoryChoice, locale: str) -> dict:
    return {
        "id": choice.id,
        "name": choice.name,
        "stage": choice.stage,
        "lat": choice.lat,
        "lng": choice.lng,
        "owned": choice.owned,
        "tasks": [
            {"id": task.id, "title": task.title_for(locale), "kind": task.kind}
            for task in choice.tasks
        ],
        "follow_up": (
            {
                "id": choice.follow_up.id,
                "due_at": choice.follow_up.due_at.isoformat(),
                "reason": choice.follow_up.reason,
            }
            if choice.follow_up
            else None
        ),
        "contacts": [{"id": c.id, "name": c.name} for c in choice.contacts],
    }
