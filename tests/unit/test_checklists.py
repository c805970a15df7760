"""The checklist service: stage and template rules, audit of changed fields, tasks left alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.models import AuditEntry, StageDefinition, Task, TaskTemplate
from crm.services.growth import checklists
from tests import builders

ITEM = {
    "title_en": "Service score ≥ 4.8",
    "title_zh": "服务体验分 ≥ 4.8",
    "kind": "measured",
    "required": True,
    "due_offset_days": 90,
    "metric_code": "service_score",
    "comparison": "at_least",
    "target_value": Decimal("4.8"),
}


@pytest.fixture
def admin(db_session):
    return builders.user("admin")


def stage(code: str) -> StageDefinition:
    return db.session.scalar(select(StageDefinition).where(StageDefinition.code == code))


def template(title_en: str) -> TaskTemplate:
    return db.session.scalar(select(TaskTemplate).where(TaskTemplate.title_en == title_en))


def entries() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def refusal(call) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        call()
    return caught.value.fields


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL sent to the database while the block runs."""
    seen: list[str] = []
    engine = db.session.get_bind()

    def listen(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


# --- stages ------------------------------------------------------------------------------------


def test_stage_summaries_count_active_required_and_retired_items(db_session, admin):
    checklists.set_template_active(admin, template("48-hour pick-up ≥ 95 %"), False)
    summaries = {summary.stage.code: summary for summary in checklists.stage_summaries()}
    assert list(summaries) == ["prospect", "elementary", "junior", "senior", "university"]
    junior = summaries["junior"]
    assert (junior.items, junior.required, junior.retired) == (4, 4, 1)
    assert (summaries["prospect"].items, summaries["senior"].items) == (0, 7)


def test_updating_a_stage_audits_the_changed_fields_only(db_session, admin):
    senior = stage("senior")
    values = {name: getattr(senior, name) for name in checklists.STAGE_FIELDS}
    checklists.update_stage(admin, senior, {**values, "cadence_days": 28, "name_zh": " 高中 "})
    assert senior.cadence_days == 28 and senior.name_zh == "高中"
    [entry] = entries()
    assert (entry.actor_id, entry.record_type, entry.action) == (
        admin.id,
        "stage_definition",
        "update",
    )
    assert entry.changes == {"cadence_days": [21, 28]}


@pytest.mark.parametrize("cadence", [0, 366, -7, "14", True, None, 1.5])
def test_a_cadence_outside_1_to_365_whole_days_is_refused(db_session, admin, cadence):
    senior = stage("senior")
    values = {name: getattr(senior, name) for name in checklists.STAGE_FIELDS}
    fields = refusal(
        lambda: checklists.update_stage(admin, senior, {**values, "cadence_days": cadence})
    )
    assert set(fields) == {"cadence_days"}
    assert senior.cadence_days == 21
    assert entries() == []


def test_a_stage_needs_both_names(db_session, admin):
    senior = stage("senior")
    fields = refusal(
        lambda: checklists.update_stage(
            admin, senior, {"name_en": "", "name_zh": None, "cadence_days": 21}
        )
    )
    assert fields == {
        "name_en": "Enter the name in English.",
        "name_zh": "Enter the name in Chinese.",
    }
    assert senior.name_en == "High school"


# --- templates ---------------------------------------------------------------------------------


def test_a_new_item_goes_to_the_end_of_its_stage_and_is_audited(db_session, admin):
    university = stage("university")
    last = max(item.position for item in checklists.templates_of(university))
    item = checklists.save_template(admin, university, None, ITEM)
    assert checklists.templates_of(university)[-1] is item
    assert item.position == last + 1 and item.active
    assert item.target_value == Decimal("4.8")
    [entry] = entries()
    assert (entry.record_type, entry.record_id, entry.action) == (
        "task_template",
        item.id,
        "create",
    )
    assert entry.changes["metric_code"] == [None, "service_score"]


@pytest.mark.parametrize(
    ("metric", "value", "accepted"),
    [
        ("service_score", Decimal("5"), True),
        ("service_score", Decimal("5.5"), False),
        ("response_median_min", Decimal("-1"), False),
        ("response_median_min", 3, True),
        ("quality_refund_rate", Decimal("0"), True),
        ("quality_refund_rate", Decimal("100.0001"), False),
        ("gmv_month", Decimal("50000000"), True),
        ("gmv_month", Decimal("-1"), False),
        ("gmv_month", Decimal("Infinity"), False),
    ],
)
def test_a_target_must_lie_in_its_metrics_range(db_session, admin, metric, value, accepted):
    values = {**ITEM, "metric_code": metric, "target_value": value}
    save = lambda: checklists.save_template(admin, stage("university"), None, values)  # noqa: E731
    if accepted:
        assert save().target_value == Decimal(value)
    else:
        assert set(refusal(save)) == {"target_value"}


def test_a_target_on_an_item_that_is_not_measured_is_refused(db_session, admin):
    values = {**ITEM, "kind": "brand"}
    fields = refusal(lambda: checklists.save_template(admin, stage("university"), None, values))
    assert set(fields) == {"metric_code", "target_value"}
    assert "Only a measured item has a target" in fields["target_value"]


def test_an_item_that_is_not_measured_keeps_no_comparison(db_session, admin):
    values = {**ITEM, "kind": "brand", "metric_code": "", "target_value": None}
    item = checklists.save_template(admin, stage("university"), None, values)
    assert (item.metric_code, item.comparison, item.target_value) == (None, None, None)


def test_a_measured_item_needs_a_metric_a_comparison_and_a_value(db_session, admin):
    values = {**ITEM, "metric_code": None, "comparison": None, "target_value": None}
    fields = refusal(lambda: checklists.save_template(admin, stage("university"), None, values))
    assert set(fields) == {"metric_code", "comparison", "target_value"}


def test_titles_are_unique_within_a_stage_whatever_their_case(db_session, admin):
    values = {**ITEM, "title_en": "REGISTERED BRAND"}
    fields = refusal(lambda: checklists.save_template(admin, stage("university"), None, values))
    assert set(fields) == {"title_en"}
    # Another stage may use the title, and an item may keep its own.
    checklists.save_template(admin, stage("senior"), None, values)
    brand = template("Registered brand")
    kept = {name: getattr(brand, name) for name in checklists.TEMPLATE_FIELDS}
    checklists.save_template(admin, stage("university"), brand, {**kept, "due_offset_days": 200})
    assert brand.due_offset_days == 200


def test_an_item_is_edited_only_through_its_own_stage(db_session, admin):
    brand = template("Registered brand")
    with pytest.raises(NotFound):
        checklists.save_template(admin, stage("senior"), brand, ITEM)


def test_a_prospect_has_no_checklist(db_session, admin):
    with pytest.raises(Invalid):
        checklists.save_template(admin, stage("prospect"), None, ITEM)
    with pytest.raises(NotFound):
        checklists.get_checklist_stage(stage("prospect").id)


def test_editing_or_retiring_an_item_never_touches_the_tasks_table(db_session, admin):
    item = template("Service score ≥ 4.5")
    factory = builders.factory(builders.belt(builders.team()), stage="university")
    copied = ("title_en", "title_zh", "kind", "required", "metric_code", "comparison")
    task = Task(
        factory=factory,
        template_id=item.id,
        stage="university",
        target_value=item.target_value,
        **{name: getattr(item, name) for name in copied},
    )
    db_session.add(task)
    db_session.flush()
    values = {**ITEM, "title_en": "Service score ≥ 4.8", "target_value": Decimal("4.8")}
    with statements() as sent:
        checklists.save_template(admin, stage("university"), item, values)
        checklists.set_template_active(admin, item, False)
    assert sent, "the changes were flushed"
    assert not [statement for statement in sent if re.search(r"\btasks\b", statement)]
    db_session.expire_all()
    assert (task.title_en, task.target_value) == ("Service score ≥ 4.5", Decimal("4.5"))
    assert task.template_id == item.id and item.active is False


def test_retiring_twice_writes_one_audit_entry(db_session, admin):
    item = template("Takes custom orders")
    checklists.set_template_active(admin, item, False)
    checklists.set_template_active(admin, item, False)
    assert [entry.action for entry in entries()] == ["retire"]
    checklists.set_template_active(admin, item, True)
    assert [entry.action for entry in entries()] == ["retire", "reactivate"]


def test_plain_numbers_lose_trailing_zeros_but_not_their_size():
    assert checklists.plain_number(Decimal("80.0000")) == "80"
    assert checklists.plain_number(Decimal("0.5000")) == "0.5"
    assert checklists.plain_number(Decimal("1E+2")) == "100"
    assert checklists.plain_number(10) == "10"
