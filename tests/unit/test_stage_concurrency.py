"""Two requests entering the same stage at once create each task once (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Factory, Task
from crm.services.growth import stages
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.mark.postgres_only
def test_concurrent_stage_entries_do_not_duplicate_tasks(app, live_db):
    factory = builders.factory(builders.belt(builders.team()), stage="elementary")
    live_db.commit()
    factory_id = factory.id
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def enter() -> None:
        try:
            with app.app_context():
                record = db.session.get(Factory, factory_id)
                barrier.wait(timeout=10)
                stages.create_stage_tasks(record, "junior", NOW)
                db.session.commit()
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=enter) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    count = live_db.scalar(
        select(func.count()).select_from(Task).where(Task.factory_id == factory_id)
    )
    assert count == 5
