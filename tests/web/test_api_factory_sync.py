"""GET /api/v1/factories?updated_since=: the factories changed since a time, paged by update
time then id with a cursor that carries both, correct while factories change between pages;
the time read strictly (issue 20, point 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from crm.extensions import db
from crm.models import Factory
from crm.services.accounts import api_tokens
from crm.services.factories import factory_list
from tests import builders

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    factories = [builders.factory(belt, owner=rep, name=f"Factory {n:02}") for n in range(8)]
    others = builders.factory(
        builders.belt(other_team), owner=builders.user("rep", team_=other_team)
    )
    # Update times out of name order, two of them the same instant (the id decides).
    times = [5, 1, 7, 3, 3, 0, 6, 2]
    for factory, hours in zip(factories, times, strict=True):
        at_time(factory, BASE + timedelta(hours=hours, microseconds=hours * 1001))
    at_time(others, BASE + timedelta(hours=4))
    db_session.commit()
    token = api_tokens.create(rep, "sync", None).secret
    manager_token = api_tokens.create(builders.user("manager", leads=[team]), "sync", None).secret
    db_session.commit()
    return {"factories": factories, "others": others, "token": token, "manager": manager_token}


def at_time(factory: Factory, when: datetime) -> None:
    db.session.execute(
        update(Factory)
        .where(Factory.id == factory.id)
        .values(updated_at=when)
        .execution_options(synchronize_session=False)
    )


def get(client, world, **query):
    headers = {"Authorization": f"Bearer {world['token']}"}
    return client.get("/api/v1/factories", query_string=query, headers=headers)


def by_update_time(world, since: datetime) -> list[int]:
    rows = [f for f in world["factories"] if db.session.get(Factory, f.id).updated_at >= since]
    rows.sort(key=lambda f: (db.session.get(Factory, f.id).updated_at, f.id))
    return [f.id for f in rows]


def test_updated_since_lists_the_factories_changed_since_by_update_time(client, world):
    db.session.expire_all()
    since = BASE + timedelta(hours=3)
    response = get(client, world, updated_since=since.isoformat())
    assert response.status_code == 200
    page = response.get_json()
    assert [item["id"] for item in page["items"]] == by_update_time(world, since)
    assert len(page["items"]) == 5  # 3, 3, 5, 6, 7 hours: the other team's factory is not ours
    assert page["total"] == 5 and page["next_after"] is None
    assert page["next_updated_since"] is None
    # The same instant written in Shanghai's offset, and with Z.
    local = since.astimezone(ZoneInfo("Asia/Shanghai")).isoformat()
    for written in (local, since.isoformat().replace("+00:00", "Z")):
        again = get(client, world, updated_since=written).get_json()
        assert [item["id"] for item in again["items"]] == by_update_time(world, since)
    # A manager's scope is read another way (the belts' condition, not a rep's two sets).
    headers = {"Authorization": f"Bearer {world['manager']}"}
    query = {"updated_since": since.isoformat()}
    managed = client.get("/api/v1/factories", query_string=query, headers=headers).get_json()
    assert [item["id"] for item in managed["items"]] == by_update_time(world, since)
    later = get(client, world, updated_since=(BASE + timedelta(days=1)).isoformat()).get_json()
    assert later["items"] == [] and later["total"] == 0


def test_pages_by_update_time_stay_correct_while_factories_change(
    client, world, monkeypatch, db_session
):
    monkeypatch.setattr(factory_list, "PAGE_SIZE", 3)
    first = get(client, world, updated_since=BASE.isoformat()).get_json()
    seen = [item["id"] for item in first["items"]]
    assert first["next_after"] == seen[-1]
    assert first["next_updated_since"] == first["items"][-1]["updated_at"]
    # Between two pages: the page's last row (the cursor's own factory), a row already read
    # and a row not read yet all change; each moves to the end.
    ids = by_update_time(world, BASE)
    changed = [ids[2], ids[0], ids[5]]
    for number, factory_id in enumerate(changed):
        body = {"name": f"Changed {number}"}
        headers = {"Authorization": f"Bearer {world['token']}"}
        changed_one = client.patch(f"/api/v1/factories/{factory_id}", json=body, headers=headers)
        assert changed_one.status_code == 200
    cursor = first
    names = {item["id"]: item["name"] for item in first["items"]}
    while cursor["next_after"] is not None:
        cursor = get(
            client,
            world,
            updated_since=cursor["next_updated_since"],
            after=cursor["next_after"],
        ).get_json()
        seen += [item["id"] for item in cursor["items"]]
        names.update({item["id"]: item["name"] for item in cursor["items"]})
    unchanged = [factory_id for factory_id in ids if factory_id not in changed]
    assert sorted(seen) == sorted([*ids, ids[2], ids[0]])  # read before their change, and after
    assert [factory_id for factory_id in seen if factory_id in unchanged] == unchanged
    assert seen[-3:] == changed  # in the order they changed
    assert [names[factory_id] for factory_id in changed] == ["Changed 0", "Changed 1", "Changed 2"]


@pytest.mark.parametrize(
    "written",
    [
        "",
        "2026-12-01",
        "2026-12-01T08:00:00",
        "2026-12-01T08:00:00 08:00",  # a + sent unencoded reads as a space
        "2026-12-01T08:00:00+25:00",
        "yesterday",
        "１７００000000",
        "2026-12-01T08:00:00+08:00\x00",
    ],
)
def test_a_bad_updated_since_is_refused_naming_it(client, world, written):
    response = get(client, world, updated_since=written)
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["updated_since"]


def test_updated_since_sent_twice_or_with_a_page_number_is_refused(client, world):
    since = BASE.isoformat()
    headers = {"Authorization": f"Bearer {world['token']}"}
    query = [("updated_since", since), ("updated_since", since)]
    twice = client.get("/api/v1/factories", query_string=query, headers=headers)
    assert twice.status_code == 422
    assert list(twice.get_json()["error"]["fields"]) == ["updated_since"]
    numbered = get(client, world, updated_since=since, page=2)
    assert numbered.status_code == 422
    assert list(numbered.get_json()["error"]["fields"]) == ["page"]


def test_the_document_declares_updated_since_and_its_cursor(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/factories"]["get"]
    parameter = next(p for p in operation["parameters"] if p["name"] == "updated_since")
    assert parameter["schema"]["format"] == "date-time"
    page = document["components"]["schemas"]["FactoryPage"]
    assert "next_updated_since" in page["required"]
