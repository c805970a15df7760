"""A factory's opening hours on its edit page (the day's route reaches it while it is open):
saved and audited, optional, and refused by the field when out of order or not a time."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEntry
from tests.web.helpers import sign_in
from tests.web.test_factory_edits import (  # noqa: F401 (fixtures)
    edit_data,
    field_error,
    fresh,
    frozen_clock,
    post,
    text_of,
    world,
)


def test_a_rep_records_the_opening_hours_and_the_change_is_audited(client, world):  # noqa: F811
    factory = world["own"]
    sign_in(client, world["rep"].email)
    assert 'name="opens_at"' in text_of(client.get(f"/factories/{factory.id}/edit"))
    response = post(
        client,
        f"/factories/{factory.id}/edit",
        edit_data(factory, opens_at="08:30", closes_at="17:00"),
    )
    assert response.status_code == 303
    saved = fresh(factory)
    assert (saved.opens_at, saved.closes_at) == (time(8, 30), time(17, 0))
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "update"))
    assert entry.changes["opens_at"] == [None, "08:30:00"]
    page = text_of(client.get(f"/factories/{factory.id}/edit"))
    assert 'value="08:30"' in page and 'value="17:00"' in page
    # Emptied, they are unknown again.
    post(client, f"/factories/{factory.id}/edit", edit_data(factory, opens_at="", closes_at=""))
    saved = fresh(factory)
    assert (saved.opens_at, saved.closes_at) == (None, None)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"opens_at": "18:00", "closes_at": "08:00"}, "closes_at", "must come after the opening"),
        ({"opens_at": "25:99"}, "opens_at", "time"),
        ({"closes_at": "noon"}, "closes_at", "time"),
    ],
)
def test_refused_hours_come_back_with_422_and_change_nothing(client, world, changes, field, words):  # noqa: F811
    factory = world["own"]
    sign_in(client, world["rep"].email)
    response = post(client, f"/factories/{factory.id}/edit", edit_data(factory, **changes))
    assert response.status_code == 422
    assert words in field_error(response, field)
    saved = fresh(factory)
    assert (saved.opens_at, saved.closes_at) == (None, None)
