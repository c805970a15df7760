"""A factory hands in evidence for a task: checked, kept, and its rep told."""

from __future__ import annotations

from datetime import datetime

from flask_babel import get_locale
from flask_babel import gettext as _

from crm.models import Task, User
from crm.services.field import photos
from crm.services.growth import tasks
from crm.services.notices import notifications


def hand_in(
    actor: User,
    task: Task,
    link: str | None,
    number: str | None,
    note: str | None,
    upload: photos.Upload | None,
    now: datetime,
) -> Task:
    """Hand in a link, a number, a note or a photo; the task's rep is notified."""
    stored = photos.store(upload) if upload is not None else None
    name = stored.stored_name if stored else None
    try:
        tasks.hand_in(actor, task, link, number, note, now, photo=name)
    except Exception:
        if name:
            photos.remove([name])
        raise
    factory = task.factory
    rep = task.owner or factory.owner
    notifications.notify(
        [rep],
        "evidence",
        lambda: _(
            "%(factory)s handed in evidence: %(task)s",
            factory=factory.name,
            task=task.title_for(str(get_locale())),
        ),
        factory=factory,
        link=f"/factories/{factory.id}#task-{task.id}",
    )
    return task
