"""Exactly once for every field action a phone's outbox sends (DESIGN.md "Exactly once"): each
form route takes a client key (the hidden field, or the Idempotency-Key header for JSON),
answers a repeat with the first answer and applies it once, refuses other content under the
same key with 409, and keeps one user's keys apart from another's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditEntry, ClientAction, Contact, FollowUp, Task
from crm.services.accounts import auth
from crm.services.growth import stages
from tests import builders
from tests.web.helpers import csrf_token

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday, 10:00 in Shanghai
KEY = "key-0123456789abcdef"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, stage="elementary", name="Yongkang Cups Co.")
    stages.create_stage_tasks(factory, "elementary", NOW)
    done = builders.task(factory, title="Done already", status="done", required=False)
    for n in range(3):
        builders.task(factory, title=f"Open {n}", required=False)
    video = builders.task(factory, title="Video shoot", required=False, kind="video_shoot")
    first = builders.follow_up(factory, rep, NOW + timedelta(days=2), reason="First")
    second = builders.follow_up(factory, rep, NOW + timedelta(days=3), reason="Second")
    owner = builders.user("factory", factory=factory)
    colleague = builders.user("factory", factory=factory)
    manager = builders.user("manager", leads=[team])
    db_session.commit()
    return {
        "factory": factory,
        "rep": rep,
        "manager": manager,
        "owner": owner,
        "colleague": colleague,
        "follow_ups": (first.id, second.id),
        "done_task": done.id,
        "video_task": video.id,
    }


@dataclass(frozen=True)
class Action:
    """One field action: who sends it, where, its fields (per record), and another content."""

    name: str
    who: str  # "rep" or "owner"
    page: str

    def path(self, world, which: int = 0) -> str:
        factory = world["factory"]
        if self.name in ("follow_up_done", "follow_up_move", "follow_up_cancel"):
            verb = {"follow_up_done": "complete", "follow_up_move": "reschedule"}.get(
                self.name, "cancel"
            )
            return f"/follow-ups/{world['follow_ups'][which]}/{verb}"
        if self.name == "contact_add":
            return f"/factories/{factory.id}/contacts"
        task_id = self.task_id(world, which)
        if self.name == "evidence_hand_in":
            return f"/portal/tasks/{task_id}/evidence"
        verb = {"task_tick": "complete", "task_reopen": "reopen", "task_video": "video"}
        return f"/tasks/{task_id}/{verb[self.name]}"

    def task_id(self, world, which: int) -> int:
        if self.name == "task_reopen":
            return world["done_task"] if which == 0 else self._open(world, 0, "done")
        if self.name == "task_video":
            return world["video_task"]
        return self._open(world, which)

    def _open(self, world, which: int, status: str = "open") -> int:
        if status == "done":
            task = db.session.get(Task, self._open(world, 0))
            task.status = "done"
            db.session.commit()
            return task.id
        ids = db.session.scalars(
            select(Task.id)
            .where(
                Task.factory_id == world["factory"].id,
                Task.status == "open",
                Task.kind.in_(("custom", "photo", "link", "document")),
            )
            .order_by(Task.id)
        ).all()
        return ids[which]

    def fields(self, world, variant: str = "a", which: int = 0) -> dict[str, str]:
        if self.name == "follow_up_move":
            day = date(2026, 12, 1) if variant == "a" else date(2026, 12, 2)
            return {"due_on": day.isoformat(), "next": "/today"}
        if self.name == "contact_add":
            return {"contact-name": "Wang " + variant, "contact-phone": "13800000000"}
        if self.name == "task_video":
            prefix = f"video-{world['video_task']}"
            return {
                f"{prefix}-shoot_on": "2026-12-01",
                f"{prefix}-video_url": f"https://v.test/{variant}",
            }
        if self.name == "evidence_hand_in":
            prefix = f"task-{self.task_id(world, which)}"
            return {f"{prefix}-evidence_link": f"https://shop.test/{variant}"}
        return {"next": "/today" if variant == "a" else "/factories/"}


ACTIONS = [
    Action("follow_up_done", "rep", "/today"),
    Action("follow_up_move", "rep", "/today"),
    Action("follow_up_cancel", "rep", "/today"),
    Action("task_tick", "rep", "/today"),
    Action("task_reopen", "rep", "/today"),
    Action("task_video", "rep", "/today"),
    Action("contact_add", "rep", "/today"),
    Action("evidence_hand_in", "owner", "/portal/"),
]


def client_of(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    db.session.commit()
    return app.test_client(user=user)


def send(client, action: Action, path: str, fields: dict, key: str = KEY, as_json: bool = True):
    token = csrf_token(client, action.page)
    if as_json:
        headers = {"Idempotency-Key": key, "X-CSRFToken": token, "Accept": "application/json"}
        return client.post(path, data=fields, headers=headers)
    return client.post(path, data={"csrf_token": token, "client_key": key, **fields})


def applied() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry))


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_a_repeat_gets_the_first_answer_and_is_applied_once(app, world, action):
    client = client_of(app, world[action.who])
    path, fields = action.path(world), action.fields(world)
    first = send(client, action, path, fields)
    assert first.status_code == 200, first.get_data(True)
    after_first = applied()
    again = send(client, action, path, fields)
    assert again.status_code == 200
    assert {**first.json, "repeat": True} == again.json
    assert first.json["kind"] == action.name and first.json["repeat"] is False
    assert applied() == after_first
    assert db.session.scalar(select(func.count()).select_from(ClientAction)) == 1


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_a_repeated_form_post_goes_where_the_first_went(app, world, action):
    client = client_of(app, world[action.who])
    path, fields = action.path(world), action.fields(world)
    first = send(client, action, path, fields, as_json=False)
    assert first.status_code == 303
    after_first = applied()
    again = send(client, action, path, fields, as_json=False)
    assert again.status_code == 303 and again.location == first.location
    assert applied() == after_first


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_other_content_under_the_same_key_is_a_conflict(app, world, action):
    client = client_of(app, world[action.who])
    assert send(client, action, action.path(world), action.fields(world)).status_code == 200
    after_first = applied()
    other = send(client, action, action.path(world), action.fields(world, "b"))
    assert other.status_code == 409
    assert other.json["error"]["fields"]["client_key"]
    assert applied() == after_first


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_another_users_key_does_not_collide(app, world, action):
    other_user = "colleague" if action.who == "owner" else "manager"
    first = send(
        client_of(app, world[action.who]), action, action.path(world), action.fields(world)
    )
    assert first.status_code == 200
    path, fields = action.path(world, 1), action.fields(world, "b", 1)
    theirs = send(client_of(app, world[other_user]), action, path, fields)
    assert theirs.status_code == 200, theirs.get_data(True)
    assert theirs.json["repeat"] is False
    assert db.session.scalar(select(func.count()).select_from(ClientAction)) == 2


def test_a_refusal_names_its_field_and_keeps_the_key_free(app, world):
    client = client_of(app, world["rep"])
    action = ACTIONS[1]
    path = action.path(world)
    refused = send(client, action, path, {"due_on": "2020-01-01", "next": "/today"})
    assert refused.status_code == 422
    assert refused.json["error"]["fields"]["due_on"]
    assert refused.json["error"]["message"]
    fixed = send(client, action, path, action.fields(world))
    assert fixed.status_code == 200 and fixed.json["repeat"] is False


def test_done_twice_under_two_keys_says_why_the_second_was_refused(app, world):
    client = client_of(app, world["rep"])
    action = ACTIONS[0]
    assert send(client, action, action.path(world), action.fields(world)).status_code == 200
    second = send(client, action, action.path(world), action.fields(world), key="key-second-000")
    assert second.status_code == 409
    assert second.json["error"]["message"]
    status = db.session.get(FollowUp, world["follow_ups"][0]).status
    assert status == "done"


def test_a_bad_key_is_refused_by_its_field_and_changes_nothing(app, world):
    client = client_of(app, world["rep"])
    action = ACTIONS[6]
    for key in ("short", "has spaces in it", "x" * 65):
        answer = send(client, action, action.path(world), action.fields(world), key=key)
        assert answer.status_code == 422 and answer.json["error"]["fields"]["client_key"]
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_the_header_and_the_field_must_agree(app, world):
    client = client_of(app, world["rep"])
    token = csrf_token(client, "/today")
    answer = client.post(
        f"/factories/{world['factory'].id}/contacts",
        data={"client_key": "key-field-0000", "contact-name": "Wang"},
        headers={"Idempotency-Key": "key-header-000", "X-CSRFToken": token},
    )
    assert answer.status_code == 400 and answer.json["error"]["code"] == "key_mismatch"


@pytest.mark.parametrize("who", ["rep", "owner"])
def test_the_sync_centre_is_drawn_for_every_signed_in_user(app, world, who):
    page = client_of(app, world[who]).get("/sync")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="sync-centre"' in text and 'id="outbox-badge"' in text
