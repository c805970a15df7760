"""Task actions on the factory page: tick, reopen, waive, send back, video, add; refusals; scope."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditEntry, Task
from crm.services.growth import stages, tasks
from crm.values import ID_MAX
from tests import builders
from tests.web.helpers import csrf_token, sign_in

WAIVE_FIELD = re.compile(r'name="waive-\d+-waive_reason"')
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt = builders.belt(team)
    builders.belt(other_team)
    rep = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, stage="elementary", name="Yongkang Cups Co.")
    stages.create_stage_tasks(factory, "elementary", NOW)
    people = {
        "rep": rep,
        "rep_other_team": builders.user("rep", team_=other_team),
        "manager": builders.user("manager", leads=[team]),
        "manager_other_belt": builders.user("manager", leads=[other_team]),
        "factory_user": builders.user("factory", factory=factory),
    }
    db_session.commit()
    return {"factory": factory, **people}


def task_of(factory, kind: str = "custom") -> Task:
    """The first task of that kind in the factory's elementary checklist ("Shop opened" first)."""
    return db.session.scalars(
        select(Task)
        .where(Task.factory_id == factory.id, Task.kind == kind)
        .order_by(Task.required.desc(), Task.id)
    ).first()


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def page_url(factory) -> str:
    return f"/factories/{factory.id}"


def post(client, factory, path: str, prefix: str = "", **fields):
    """Post a row's form as the page draws it: fields and token carry the form's prefix."""
    token = csrf_token(client, page_url(factory))
    named = {(f"{prefix}-{name}" if prefix else name): value for name, value in fields.items()}
    return client.post(
        path, data={(f"{prefix}-csrf_token" if prefix else "csrf_token"): token, **named}
    )


def field_error(response, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', text_of(response))
    return match.group(1) if match else ""


def audit_actions(task: Task) -> list[tuple[str, int | None]]:
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.record_type == "task", AuditEntry.record_id == task.id)
        .order_by(AuditEntry.id)
    )
    return [(entry.action, entry.actor_id) for entry in entries]


def fresh(task: Task) -> Task:
    db.session.expire_all()
    return db.session.get(Task, task.id)


def hand_in(world, task: Task, link: str = "https://shop.example.test/item/1") -> None:
    tasks.hand_in(world["factory_user"], task, link, "20", "All twenty listed", NOW)
    db.session.commit()


# --- ticking and reopening -------------------------------------------------------------------


def test_rep_marks_a_task_done_and_returns_to_its_row(client, world):
    factory, rep = world["factory"], world["rep"]
    task = task_of(factory)
    sign_in(client, rep.email)
    response = post(client, factory, f"/tasks/{task.id}/complete")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{page_url(factory)}#task-{task.id}")
    task = fresh(task)
    assert task.status == "done" and task.verified_by_id == rep.id
    assert ("complete", rep.id) in audit_actions(task)
    assert "Done: Shop opened." in text_of(client.get(page_url(factory)))


def test_the_last_item_done_makes_the_factory_eligible(client, world):
    factory = world["factory"]
    for task in db.session.scalars(select(Task).where(Task.factory_id == factory.id)):
        if task.title_en != "Shop opened" and task.kind != "measured":
            task.status = "done"
    db.session.commit()
    sign_in(client, world["rep"].email)
    before = text_of(client.get(page_url(factory)))
    assert "1 of 4 left:" in before and "Mark done" in before
    post(client, factory, f"/tasks/{task_of(factory).id}/complete")
    page = text_of(client.get(page_url(factory)))
    assert "Ready for Junior high" in page
    assert "Request promotion to Junior high" in page


def test_reopen_puts_a_done_task_back_open(client, world):
    factory = world["factory"]
    task = task_of(factory)
    task.status = "done"
    db.session.commit()
    sign_in(client, world["rep"].email)
    assert "Reopen" in text_of(client.get(page_url(factory)))
    response = post(client, factory, f"/tasks/{task.id}/reopen")
    assert response.status_code == 303
    assert fresh(task).status == "open"
    assert ("reopen", world["rep"].id) in audit_actions(task)


def test_a_measured_item_cannot_be_ticked(client, world):
    factory = world["factory"]
    measured = task_of(factory, "measured")
    sign_in(client, world["rep"].email)
    page = text_of(client.get(page_url(factory)))
    row = page[page.index(f'id="task-{measured.id}"') :]
    assert "Mark done" not in row[: row.index("</li>")]
    response = post(client, factory, f"/tasks/{measured.id}/complete")
    assert response.status_code == 422
    assert "A measured item is judged from the factory's figures" in text_of(response)
    assert fresh(measured).status == "open"
    assert audit_actions(measured) == []


# --- waiving ---------------------------------------------------------------------------------


def test_a_manager_waives_a_required_task_with_a_reason(client, world):
    factory, manager = world["factory"], world["manager"]
    task = task_of(factory)
    sign_in(client, manager.email)
    assert f'id="waive-{task.id}-waive_reason"' in text_of(client.get(page_url(factory)))
    response = post(
        client, factory, f"/tasks/{task.id}/waive", f"waive-{task.id}", waive_reason="Shop runs"
    )
    assert response.status_code == 303
    task = fresh(task)
    assert task.status == "waived" and task.waive_reason == "Shop runs"
    assert ("waive", manager.id) in audit_actions(task)
    page = text_of(client.get(page_url(factory)))
    assert "Waived: Shop opened." in page and "Waived: Shop runs" in page


def test_an_empty_waive_reason_comes_back_by_the_field(client, world):
    factory = world["factory"]
    task = task_of(factory)
    sign_in(client, world["manager"].email)
    response = post(client, factory, f"/tasks/{task.id}/waive", f"waive-{task.id}", waive_reason="")
    assert response.status_code == 422
    assert "Say why this item is waived." in field_error(response, f"waive-{task.id}-waive_reason")
    assert '<details class="task-more" open>' in response.get_data(as_text=True)
    assert fresh(task).status == "open"
    assert audit_actions(task) == []


def test_a_blank_waive_reason_is_refused_by_the_service(client, world):
    factory = world["factory"]
    task = task_of(factory)
    sign_in(client, world["manager"].email)
    response = post(
        client, factory, f"/tasks/{task.id}/waive", f"waive-{task.id}", waive_reason="   "
    )
    assert response.status_code == 422
    assert "Say why this item is waived." in field_error(response, f"waive-{task.id}-waive_reason")
    assert fresh(task).status == "open"


def test_a_rep_cannot_waive_a_required_task(client, world):
    factory = world["factory"]
    task = task_of(factory)
    sign_in(client, world["rep"].email)
    assert f'id="waive-{task.id}-waive_reason"' not in text_of(client.get(page_url(factory)))
    response = post(
        client, factory, f"/tasks/{task.id}/waive", f"waive-{task.id}", waive_reason="Not needed"
    )
    assert response.status_code == 403
    task = fresh(task)
    assert task.status == "open" and task.waive_reason is None
    assert audit_actions(task) == []


def test_only_a_manager_reopens_a_waived_required_task(client, world):
    factory = world["factory"]
    task = task_of(factory)
    tasks.waive(world["manager"], task, "Shop runs on another platform", NOW)
    db.session.commit()
    sign_in(client, world["rep"].email)
    page = text_of(client.get(page_url(factory)))
    row = page[page.index(f'id="task-{task.id}"') :]
    assert "Reopen" not in row[: row.index("</li>")]
    assert post(client, factory, f"/tasks/{task.id}/reopen").status_code == 403
    assert fresh(task).status == "waived"
    manager = client.application.test_client()
    sign_in(manager, world["manager"].email)
    assert post(manager, factory, f"/tasks/{task.id}/reopen").status_code == 303
    assert fresh(task).status == "open"


def test_a_rep_waives_an_optional_task(client, world):
    factory = world["factory"]
    optional = task_of(factory, "measured")
    assert not optional.required
    sign_in(client, world["rep"].email)
    response = post(
        client,
        factory,
        f"/tasks/{optional.id}/waive",
        f"waive-{optional.id}",
        waive_reason="Inquiries go to the owner's phone",
    )
    assert response.status_code == 303
    assert fresh(optional).status == "waived"


# --- evidence: accept or send back -----------------------------------------------------------


def test_staff_see_the_evidence_and_accept_it(client, world):
    factory = world["factory"]
    task = db.session.scalars(
        select(Task).where(Task.factory_id == factory.id, Task.title_en.like("20 products%"))
    ).one()
    hand_in(world, task)
    sign_in(client, world["rep"].email)
    page = client.get(page_url(factory)).get_data(as_text=True)
    assert (
        '<a class="task-link" href="https://shop.example.test/item/1" target="_blank" '
        'rel="noopener noreferrer">'
    ) in page
    assert "Number: 20" in page and "All twenty listed" in page and ">Accept<" in page
    response = post(client, factory, f"/tasks/{task.id}/complete")
    assert response.status_code == 303
    assert fresh(task).status == "done"
    assert "Accepted: 20 products listed with real photos." in text_of(
        client.get(page_url(factory))
    )


def test_staff_send_evidence_back_with_a_reason(client, world):
    factory = world["factory"]
    task = task_of(factory)
    hand_in(world, task)
    sign_in(client, world["rep"].email)
    prefix = f"send-back-{task.id}"
    refused = post(client, factory, f"/tasks/{task.id}/send-back", prefix, send_back_reason="")
    assert refused.status_code == 422
    assert "Say what the factory should change." in field_error(
        refused, f"{prefix}-send_back_reason"
    )
    assert fresh(task).status == "submitted"
    response = post(
        client,
        factory,
        f"/tasks/{task.id}/send-back",
        prefix,
        send_back_reason="The photos are renders, not real",
    )
    assert response.status_code == 303
    task = fresh(task)
    assert task.status == "open" and task.send_back_reason == "The photos are renders, not real"
    assert ("send_back", world["rep"].id) in audit_actions(task)
    assert "Sent back: The photos are renders, not real" in text_of(client.get(page_url(factory)))


# --- a video shoot ---------------------------------------------------------------------------


def test_a_video_link_completes_the_shoot(client, world):
    factory = world["factory"]
    video = task_of(factory, "video_shoot")
    sign_in(client, world["rep"].email)
    prefix = f"video-{video.id}"
    dated = post(client, factory, f"/tasks/{video.id}/video", prefix, shoot_on="2026-11-28")
    assert dated.status_code == 303
    video = fresh(video)
    assert video.shoot_on == date(2026, 11, 28) and video.status == "open"
    assert f'id="{prefix}-shoot_on" name="{prefix}-shoot_on" type="date" value="2026-11-28"' in (
        client.get(page_url(factory)).get_data(as_text=True)
    )
    linked = post(
        client,
        factory,
        f"/tasks/{video.id}/video",
        prefix,
        video_url="https://video.example.test/v/42",
    )
    assert linked.status_code == 303
    video = fresh(video)
    assert video.status == "done" and video.video_url == "https://video.example.test/v/42"
    assert [action for action, _ in audit_actions(video)] == ["video", "video"]
    page = client.get(page_url(factory)).get_data(as_text=True)
    assert (
        'href="https://video.example.test/v/42" target="_blank" rel="noopener noreferrer"' in page
    )
    assert "Shoot date: Nov 28, 2026" in page


def test_a_rows_blank_fields_are_drawn_once_a_process_and_a_filled_one_shows_its_values(
    app, client, world, monkeypatch
):
    """The rows' fields (a video shoot's date and link, Waive's reason) are drawn blank once a
    process and language, each row's own id put in; a row with a shoot date draws its own."""
    from crm.views import tasks as task_views

    factory = world["factory"]
    video = task_of(factory, "video_shoot")
    drawn: list[str] = []
    draw = task_views._draw_field

    def counted(field, css=""):
        drawn.append(field.id)
        return draw(field, css)

    monkeypatch.setattr(task_views, "_draw_field", counted)
    app.extensions.pop("crm_parts", None)  # another test may have kept them in this worker
    sign_in(client, world["manager"].email)  # who may waive every row
    first = client.get(page_url(factory)).get_data(as_text=True)
    assert drawn and all(f"-{ID_MAX}-" in name for name in drawn), drawn
    assert len(drawn) == len(set(drawn))  # each field once, however many rows show it
    drawn.clear()
    second = client.get(page_url(factory)).get_data(as_text=True)
    assert drawn == [] and second.count('name="waive-') == first.count('name="waive-') > 1
    assert (
        f'id="video-{video.id}-shoot_on" name="video-{video.id}-shoot_on" type="date" value=""'
        in (second)
    )
    assert str(ID_MAX) not in second
    tasks.record_video(world["rep"], video, date(2026, 11, 28), None, NOW)
    db.session.commit()
    third = client.get(page_url(factory)).get_data(as_text=True)
    assert drawn == [f"video-{video.id}-shoot_on"]  # its own value; the blank link is kept
    assert f'name="video-{video.id}-shoot_on" type="date" value="2026-11-28"' in third


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"video_url": "javascript:alert(1)"}, "video_url", "Enter a web address starting with"),
        ({"video_url": "", "shoot_on": ""}, "shoot_on", "Enter a shoot date, a video link or both"),
    ],
)
def test_a_bad_video_shoot_comes_back_by_the_field(client, world, fields, field, words):
    factory = world["factory"]
    video = task_of(factory, "video_shoot")
    sign_in(client, world["rep"].email)
    prefix = f"video-{video.id}"
    response = post(client, factory, f"/tasks/{video.id}/video", prefix, **fields)
    assert response.status_code == 422
    assert words in field_error(response, f"{prefix}-{field}")
    video = fresh(video)
    assert video.status == "open" and video.video_url is None
    assert 'href="javascript:' not in response.get_data(as_text=True)


# --- adding a task ---------------------------------------------------------------------------


def test_rep_adds_a_task_to_the_checklist(client, world):
    factory = world["factory"]
    sign_in(client, world["rep"].email)
    response = post(
        client,
        factory,
        f"/factories/{factory.id}/tasks",
        "new-task",
        title="Photograph the new cup moulds",
        due_on="2026-12-05",
    )
    assert response.status_code == 303
    added = db.session.scalars(
        select(Task).where(Task.title_en == "Photograph the new cup moulds")
    ).one()
    assert response.headers["Location"].endswith(f"#task-{added.id}")
    assert added.kind == "custom" and not added.required and added.due_on == date(2026, 12, 5)
    assert ("create", world["rep"].id) in audit_actions(added)
    page = text_of(client.get(page_url(factory)))
    assert "Task added: Photograph the new cup moulds." in page
    assert f'id="task-{added.id}"' in page


@pytest.mark.parametrize("title", ["", "   ", "x" * 300])
def test_a_task_title_empty_or_too_long_is_refused(client, world, title):
    factory = world["factory"]
    count = db.session.scalar(select(func.count()).select_from(Task))
    sign_in(client, world["rep"].email)
    response = post(
        client, factory, f"/factories/{factory.id}/tasks", "new-task", title=title, due_on=""
    )
    assert response.status_code == 422
    assert "Enter a title of 1 to 200 characters." in field_error(response, "new-task-title")
    assert '<details class="task-add" open>' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Task)) == count


# --- scope and the edge ----------------------------------------------------------------------


@pytest.mark.parametrize("position", ["rep_other_team", "manager_other_belt", "factory_user"])
def test_people_outside_the_factorys_scope_get_404(client, world, position):
    factory = world["factory"]
    task = task_of(factory)
    sign_in(client, world[position].email)
    token = csrf_token(client, "/account/")
    for path in (
        f"/tasks/{task.id}/complete",
        f"/tasks/{task.id}/reopen",
        f"/tasks/{task.id}/waive",
        f"/tasks/{task.id}/send-back",
        f"/tasks/{task.id}/video",
        f"/factories/{factory.id}/tasks",
    ):
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    assert fresh(task).status == "open"
    assert audit_actions(task) == []


def test_a_post_without_csrf_token_changes_nothing(client, world):
    factory = world["factory"]
    task = task_of(factory)
    sign_in(client, world["rep"].email)
    assert client.post(f"/tasks/{task.id}/complete").status_code == 400
    assert fresh(task).status == "open"


def test_the_manager_sees_waive_on_required_items_and_the_rep_does_not(client, world):
    factory = world["factory"]
    sign_in(client, world["rep"].email)
    rep_page = text_of(client.get(page_url(factory)))
    assert len(WAIVE_FIELD.findall(rep_page)) == 1  # only the optional measured item
    assert "Add a task" in rep_page and "style=" not in rep_page
    manager = client.application.test_client()
    sign_in(manager, world["manager"].email)
    manager_page = text_of(manager.get(page_url(factory)))
    assert len(WAIVE_FIELD.findall(manager_page)) == 5
