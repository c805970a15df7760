"""A factory's checklist for its current stage: its tasks and how far along they are."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from crm.extensions import db
from crm.models import Factory, Task


@dataclass
class Checklist:
    tasks: list[Task]
    closed: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.closed / self.total) if self.total else 0


def for_factory(factory: Factory) -> Checklist:
    """The tasks of the factory's current stage plus its ad-hoc tasks, required ones first."""
    statement = select(Task).where(Task.factory_id == factory.id)
    if factory.stage is None:
        statement = statement.where(Task.stage.is_(None))
    else:
        statement = statement.where((Task.stage == factory.stage) | Task.stage.is_(None))
    tasks = list(db.session.scalars(statement.order_by(Task.required.desc(), Task.due_on, Task.id)))
    closed = sum(1 for task in tasks if task.is_closed)
    return Checklist(tasks=tasks, closed=closed, total=len(tasks))
