"""The admin edits stages and their checklists as data: pages, refusals by the field, audit."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.models import AuditEntry, StageDefinition, Task, TaskTemplate
from crm.services.accounts import auth
from tests import builders
from tests.web.helpers import csrf_token

GOOD_ITEM = {
    "title_en": "Answers within 3 minutes ≥ 85 %",
    "title_zh": "3分钟响应率 ≥ 85%",
    "kind": "measured",
    "required": "y",
    "due_offset_days": "60",
    "metric_code": "response_3min_rate",
    "comparison": "at_least",
    "target_value": "85",
}
STAGE_COLUMNS = ("name_en", "name_zh", "description_en", "description_zh", "cadence_days")
TEMPLATE_COLUMNS = (*GOOD_ITEM, "position", "active")


def signed_in(app, user):
    """A client signed in through a session row of its own (no password hashing)."""
    auth.start_session(user, "test", "127.0.0.1")
    return app.test_client(user=user)


@pytest.fixture
def admin(db_session):
    user = builders.user("admin")
    db_session.commit()
    return user


@pytest.fixture
def client_admin(app, admin, db_session):
    client = signed_in(app, admin)
    db_session.commit()
    return client


def stage_of(db_session, code: str) -> StageDefinition:
    return db_session.scalar(select(StageDefinition).where(StageDefinition.code == code))


def template_of(db_session, title_en: str) -> TaskTemplate:
    return db_session.scalar(select(TaskTemplate).where(TaskTemplate.title_en == title_en))


def post(client, path: str, data: dict[str, str | None]):
    form = {name: value for name, value in data.items() if value is not None}
    form["csrf_token"] = csrf_token(client, "/admin/stages")
    return client.post(path, data=form)


def field_error(page: str, name: str) -> str:
    """The message shown by a field (the macro's `<p class="error" id="NAME-error">`)."""
    match = re.search(rf'<p class="error" id="{name}-error">(.*?)</p>', page, re.S)
    assert match, f"no error shown by {name}"
    return html.unescape(match.group(1))


def audit_entries(db_session, record_type: str) -> list[AuditEntry]:
    return list(
        db_session.scalars(
            select(AuditEntry).where(AuditEntry.record_type == record_type).order_by(AuditEntry.id)
        )
    )


def snapshot(record, names) -> dict:
    return {name: getattr(record, name) for name in names}


def stage_form(stage: StageDefinition, **changes: str) -> dict[str, str]:
    """The stage form as the page fills it in, with some fields changed."""
    return {name: str(getattr(stage, name)) for name in STAGE_COLUMNS} | changes


# --- the list of stages --------------------------------------------------------------------


def test_admin_sees_every_stage_with_both_names_cadence_and_item_count(client_admin):
    response = client_admin.get("/admin/stages")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    items = re.findall(r'<li class="stage-item stage-item-(\w+)">(.*?)</li>', page, re.S)
    assert [code for code, _item in items] == [
        "prospect",
        "elementary",
        "junior",
        "senior",
        "university",
    ]
    junior = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dict(items)["junior"]))
    assert "Junior high" in junior and "初中" in junior
    assert "14 days between visits" in junior
    assert "5 checklist items" in junior and "4 required" in junior
    assert "no checklist" in dict(items)["prospect"]


def test_admin_home_links_to_the_stages(client_admin):
    assert 'href="/admin/stages"' in client_admin.get("/admin/").get_data(as_text=True)


# --- one stage -----------------------------------------------------------------------------


def test_stage_page_shows_the_checklist_in_order_with_targets(client_admin, db_session):
    junior = stage_of(db_session, "junior")
    page = client_admin.get(f"/admin/stages/{junior.id}").get_data(as_text=True)
    titles = re.findall(r'<p class="checklist-item-title">(.*?)</p>', page)
    assert [html.unescape(title) for title in titles] == [
        "Answers within 3 minutes ≥ 80 %",
        "72-hour delivery ≥ 90 %",
        "48-hour pick-up ≥ 95 %",
        "Videos for the 10 best sellers",
        "Joins a Merchant Day promotion",
    ]
    assert "Orders shipped within 72 hours: at least 90 %" in html.unescape(page)
    assert "Measured against a target" in page and "Video shoot" in page


def test_admin_changes_a_stages_cadence_and_the_change_is_audited(client_admin, db_session, admin):
    junior = stage_of(db_session, "junior")
    response = post(
        client_admin, f"/admin/stages/{junior.id}", stage_form(junior, cadence_days="10")
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/stages/{junior.id}"
    db_session.expire_all()
    assert junior.cadence_days == 10
    [entry] = audit_entries(db_session, "stage_definition")
    assert (entry.actor_id, entry.record_id, entry.action) == (admin.id, junior.id, "update")
    assert entry.changes == {"cadence_days": [14, 10]}


def test_saving_an_unchanged_stage_writes_no_audit_entry(client_admin, db_session):
    junior = stage_of(db_session, "junior")
    assert post(client_admin, f"/admin/stages/{junior.id}", stage_form(junior)).status_code == 303
    assert audit_entries(db_session, "stage_definition") == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name_en", "", "Enter the name in English."),
        ("name_zh", "  ", "Enter the name in Chinese."),
        ("name_en", "x" * 101, "Name in English: use at most 100 characters (now 101)."),
        ("cadence_days", "0", "Enter a number of days from 1 to 365."),
        ("cadence_days", "400", "Enter a number of days from 1 to 365."),
        ("cadence_days", "abc", "Enter a whole number of days, e.g. 14."),
        ("cadence_days", "", "Enter a whole number of days, e.g. 14."),
        ("cadence_days", "1.5", "Enter a whole number of days, e.g. 14."),
        (
            "description_en",
            "x" * 2001,
            "Description in English: use at most 2000 characters (now 2001).",
        ),
    ],
)
def test_bad_stage_input_is_refused_by_the_field_and_changes_nothing(
    client_admin, db_session, field, value, message
):
    junior = stage_of(db_session, "junior")
    before = snapshot(junior, STAGE_COLUMNS)
    response = post(
        client_admin, f"/admin/stages/{junior.id}", stage_form(junior, **{field: value})
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error(page, field) == message
    assert "Not saved: correct the fields marked below." in page
    db_session.expire_all()
    assert snapshot(junior, STAGE_COLUMNS) == before
    assert audit_entries(db_session, "stage_definition") == []


# --- its checklist -------------------------------------------------------------------------


def test_admin_adds_a_measured_item_with_a_target(client_admin, db_session, admin):
    junior = stage_of(db_session, "junior")
    last = max(template.position for template in junior.templates)
    response = post(client_admin, f"/admin/stages/{junior.id}/templates/new", GOOD_ITEM)
    assert response.status_code == 303
    item = template_of(db_session, GOOD_ITEM["title_en"])
    assert response.headers["Location"] == f"/admin/stages/{junior.id}#template-{item.id}"
    assert (item.stage_code, item.kind, item.required, item.due_offset_days) == (
        "junior",
        "measured",
        True,
        60,
    )
    assert (item.metric_code, item.comparison, item.target_value) == (
        "response_3min_rate",
        "at_least",
        Decimal("85"),
    )
    assert item.active and item.position == last + 1
    [entry] = audit_entries(db_session, "task_template")
    assert (entry.actor_id, entry.record_id, entry.action) == (admin.id, item.id, "create")
    assert entry.changes["target_value"] == [None, "85.0000"]
    assert entry.changes["title_zh"] == [None, "3分钟响应率 ≥ 85%"]


def test_an_optional_custom_item_carries_no_target(client_admin, db_session):
    junior = stage_of(db_session, "junior")
    data = {**GOOD_ITEM, "kind": "custom", "metric_code": "", "target_value": "", "required": None}
    response = post(client_admin, f"/admin/stages/{junior.id}/templates/new", data)
    assert response.status_code == 303
    item = template_of(db_session, GOOD_ITEM["title_en"])
    assert (item.kind, item.required) == ("custom", False)
    assert (item.metric_code, item.comparison, item.target_value) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title_en": ""}, "title_en", "Enter the title in English."),
        ({"title_zh": "   "}, "title_zh", "Enter the title in Chinese."),
        (
            {"title_en": "x" * 201},
            "title_en",
            "Title in English: use at most 200 characters (now 201).",
        ),
        (
            {"title_en": "Videos for the 10 best sellers"},
            "title_en",
            "This stage already has an item with this English title.",
        ),
        ({"kind": "bogus"}, "kind", "Choose the kind of item from the list."),
        ({"due_offset_days": "-1"}, "due_offset_days", "Enter a number of days from 0 to 3650."),
        ({"due_offset_days": "4000"}, "due_offset_days", "Enter a number of days from 0 to 3650."),
        ({"due_offset_days": "abc"}, "due_offset_days", "Enter a whole number of days, e.g. 14."),
        (
            {"target_value": "abc"},
            "target_value",
            "Enter the target as a number, e.g. 80 or 4.5.",
        ),
        (
            {"target_value": "NaN"},
            "target_value",
            "Enter the target as a number, e.g. 80 or 4.5.",
        ),
        (
            {"target_value": "120"},
            "target_value",
            "This metric runs from 0 to 100: enter a value in that range.",
        ),
        (
            {"target_value": "-5"},
            "target_value",
            "This metric runs from 0 to 100: enter a value in that range.",
        ),
        ({"target_value": "80.12345"}, "target_value", "Use at most 4 decimal places."),
        ({"target_value": ""}, "target_value", "Enter the target value, e.g. 80."),
        (
            {"metric_code": "gmv_month", "target_value": "1e13"},
            "target_value",
            "Enter a value below 1000000000000.",
        ),
        ({"metric_code": "no_such_metric"}, "metric_code", "Choose a metric from the catalogue."),
        ({"metric_code": ""}, "metric_code", "Choose a metric from the catalogue."),
        ({"comparison": "equal"}, "comparison", "Choose “at least” or “at most”."),
        (
            {"kind": "custom"},
            "target_value",
            "Only a measured item has a target: choose the kind “Measured”, or clear the target.",
        ),
        (
            {"kind": "custom", "target_value": ""},
            "metric_code",
            "Only a measured item has a target: choose the kind “Measured”, or clear the target.",
        ),
    ],
)
def test_bad_item_input_is_refused_by_the_field_and_changes_nothing(
    client_admin, db_session, changes, field, message
):
    junior = stage_of(db_session, "junior")
    count = db_session.scalar(select(func.count()).select_from(TaskTemplate))
    response = post(
        client_admin, f"/admin/stages/{junior.id}/templates/new", {**GOOD_ITEM, **changes}
    )
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), field) == message
    assert db_session.scalar(select(func.count()).select_from(TaskTemplate)) == count
    assert audit_entries(db_session, "task_template") == []


def test_a_bad_edit_leaves_the_item_as_it_was(client_admin, db_session):
    item = template_of(db_session, "72-hour delivery ≥ 90 %")
    before = snapshot(item, TEMPLATE_COLUMNS)
    data = {**GOOD_ITEM, "title_en": "72-hour delivery ≥ 120 %", "target_value": "120"}
    response = post(client_admin, f"/admin/templates/{item.id}", data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "This metric runs from 0 to 100" in field_error(page, "target_value")
    assert 'value="72-hour delivery ≥ 120 %"' in html.unescape(page)  # what was typed stays
    db_session.expire_all()
    assert snapshot(item, TEMPLATE_COLUMNS) == before
    assert audit_entries(db_session, "task_template") == []


def test_editing_an_item_never_rewrites_the_tasks_factories_already_have(
    client_admin, db_session, admin
):
    item = template_of(db_session, "72-hour delivery ≥ 90 %")
    belt = builders.belt(builders.team())
    factory = builders.factory(belt, stage="junior")
    copied = ("title_en", "title_zh", "kind", "required", "metric_code", "comparison")
    task = Task(
        factory=factory,
        template_id=item.id,
        stage="junior",
        target_value=item.target_value,
        **{name: getattr(item, name) for name in copied},
    )
    db_session.add(task)
    db_session.commit()
    task_before = snapshot(task, (*copied, "target_value", "status", "updated_at"))

    data = {
        **GOOD_ITEM,
        "title_en": "72-hour delivery ≥ 95 %",
        "title_zh": "72小时发货率 ≥ 95%",
        "metric_code": "delivery_72h_rate",
        "target_value": "95",
    }
    assert post(client_admin, f"/admin/templates/{item.id}", data).status_code == 303

    db_session.expire_all()
    assert (item.title_en, item.target_value) == ("72-hour delivery ≥ 95 %", Decimal("95"))
    assert snapshot(task, task_before) == task_before
    assert task.title_en == "72-hour delivery ≥ 90 %" and task.target_value == Decimal("90")
    [entry] = audit_entries(db_session, "task_template")
    assert (entry.action, entry.actor_id) == ("update", admin.id)
    assert entry.changes == {
        "title_en": ["72-hour delivery ≥ 90 %", "72-hour delivery ≥ 95 %"],
        "title_zh": ["72小时发货率 ≥ 90%", "72小时发货率 ≥ 95%"],
        "target_value": ["90.0000", "95.0000"],
    }


def test_changing_an_item_to_a_custom_kind_clears_its_target(client_admin, db_session):
    item = template_of(db_session, "48-hour pick-up ≥ 95 %")
    data = {**GOOD_ITEM, "title_en": item.title_en, "title_zh": item.title_zh, "kind": "custom"}
    data.update(metric_code="", target_value="", required=None)
    assert post(client_admin, f"/admin/templates/{item.id}", data).status_code == 303
    db_session.expire_all()
    assert (item.kind, item.metric_code, item.comparison, item.target_value) == (
        "custom",
        None,
        None,
        None,
    )
    [entry] = audit_entries(db_session, "task_template")
    assert entry.changes["metric_code"] == ["pickup_48h_rate", None]
    assert "required" not in entry.changes  # it was optional already


def test_admin_retires_and_reactivates_an_item_without_touching_tasks(client_admin, db_session):
    item = template_of(db_session, "Joins a Merchant Day promotion")
    factory = builders.factory(builders.belt(builders.team()), stage="junior")
    task = builders.task(factory, "Joins a Merchant Day promotion")
    task.template_id = item.id
    db_session.commit()

    response = post(client_admin, f"/admin/templates/{item.id}/retire", {})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"#template-{item.id}")
    db_session.expire_all()
    assert item.active is False
    assert db_session.get(Task, task.id).template_id == item.id
    page = client_admin.get(f"/admin/stages/{stage_of(db_session, 'junior').id}")
    assert "Retired" in page.get_data(as_text=True)
    assert "Reactivate" in page.get_data(as_text=True)

    assert post(client_admin, f"/admin/templates/{item.id}/reactivate", {}).status_code == 303
    db_session.expire_all()
    assert item.active is True
    entries = audit_entries(db_session, "task_template")
    assert [(entry.action, entry.changes) for entry in entries] == [
        ("retire", {"active": [True, False]}),
        ("reactivate", {"active": [False, True]}),
    ]


def test_the_prospect_has_a_cadence_but_no_checklist(client_admin, db_session):
    prospect = stage_of(db_session, "prospect")
    page = client_admin.get(f"/admin/stages/{prospect.id}").get_data(as_text=True)
    assert "A prospect has no checklist" in page
    assert "/templates/new" not in page
    assert client_admin.get(f"/admin/stages/{prospect.id}/templates/new").status_code == 404
    response = post(client_admin, f"/admin/stages/{prospect.id}/templates/new", GOOD_ITEM)
    assert response.status_code == 404


# --- refusals before the form ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/stages/999999"),
        ("POST", "/admin/stages/999999"),
        ("GET", "/admin/stages/999999/templates/new"),
        ("GET", "/admin/templates/999999"),
        ("POST", "/admin/templates/999999"),
        ("POST", "/admin/templates/999999/retire"),
        ("POST", "/admin/templates/999999/reactivate"),
    ],
)
def test_unknown_ids_are_not_found(client_admin, method, path):
    data = {"csrf_token": csrf_token(client_admin, "/admin/stages")} if method == "POST" else None
    assert client_admin.open(path, method=method, data=data).status_code == 404


@pytest.mark.parametrize(("role", "status"), [("manager", 403), ("rep", 403), ("factory", 404)])
def test_no_one_but_an_admin_edits_a_checklist(app, db_session, role, status):
    team = builders.team()
    factory = builders.factory(builders.belt(team)) if role == "factory" else None
    user = builders.user(role, team_=team, factory=factory)
    client = signed_in(app, user)
    db_session.commit()
    junior = stage_of(db_session, "junior")
    item = template_of(db_session, "72-hour delivery ≥ 90 %")
    before = snapshot(item, TEMPLATE_COLUMNS), snapshot(junior, STAGE_COLUMNS)
    token = csrf_token(client, "/account/")
    assert client.get("/admin/stages").status_code == status
    attempts = [
        (f"/admin/stages/{junior.id}", stage_form(junior, cadence_days="3")),
        (f"/admin/templates/{item.id}", {**GOOD_ITEM, "target_value": "10"}),
        (f"/admin/templates/{item.id}/retire", {}),
    ]
    for path, data in attempts:
        assert client.post(path, data={**data, "csrf_token": token}).status_code == status
    db_session.expire_all()
    assert (snapshot(item, TEMPLATE_COLUMNS), snapshot(junior, STAGE_COLUMNS)) == before
    assert audit_entries(db_session, "task_template") == []


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(client_admin, db_session):
    junior = stage_of(db_session, "junior")
    client_admin.get("/admin/stages")
    response = client_admin.post(
        f"/admin/stages/{junior.id}", data=stage_form(junior, cadence_days="3")
    )
    assert response.status_code == 400
    item = template_of(db_session, "72-hour delivery ≥ 90 %")
    assert client_admin.post(f"/admin/templates/{item.id}/retire").status_code == 400
    db_session.expire_all()
    assert junior.cadence_days == 14 and item.active is True


def test_the_pages_speak_chinese_to_a_chinese_admin(app, db_session):
    admin = builders.user("admin", locale="zh_Hans")
    client = signed_in(app, admin)
    db_session.commit()
    junior = stage_of(db_session, "junior")
    response = client.get(f"/admin/stages/{junior.id}/templates/new")
    assert response.status_code == 200
    assert "3分钟询盘响应率" in response.get_data(as_text=True)  # metric names in Chinese
