"""The factory page in Chromium: what is left shows on the first screen; the promotion path."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from crm.extensions import db
from crm.models import Contact, MetricSnapshot, StageChange, Task, Visit
from crm.services.growth import figures, stages
from tests import builders
from tests.browser.guard import DESKTOP, PHONE

# Six months of answered-within-3-minutes rates, oldest first (None: no figure that month).
RESPONSE_TREND = (Decimal("61"), Decimal("64.5"), None, Decimal("70"), Decimal("73"), None)


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail or mobile number").fill(email)
    page.get_by_label("Password", exact=True).fill(builders.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))


def junior_factory(belt, rep, name: str, now: datetime):
    """A junior-stage factory with contacts, six months of figures, a visit and its history."""
    factory = builders.factory(belt, owner=rep, stage="junior", name=name)
    factory.address = "浙江省金华市永康市经济开发区金山西路88号"
    factory.stage_entered_at = now - timedelta(days=47)
    stages.create_stage_tasks(factory, "junior", now - timedelta(days=47))
    factory.contacts.append(
        Contact(name="王丽", role="老板", phone="138 1234 5678", phone_digits="13812345678")
    )
    for month, value in zip(figures.trend_months(now), RESPONSE_TREND, strict=True):
        if value is not None:
            db.session.add(
                MetricSnapshot(
                    factory=factory, metric_code="response_3min_rate", month=month, value=value
                )
            )
    db.session.add(
        StageChange(
            factory=factory,
            from_status="active",
            from_stage="elementary",
            to_status="active",
            to_stage="junior",
            requested_by=rep,
            requested_at=now - timedelta(days=48),
            decision="approved",
            decided_at=now - timedelta(days=47),
            reason="Shop, products, first video and an inquiry answerer: all done.",
        )
    )
    db.session.add(
        Visit(
            factory=factory,
            rep=rep,
            purpose="training",
            checked_in_at=now - timedelta(days=3),
            summary="教会客服用手机回复询盘，目标3分钟内回复。",
            client_key=f"browser-{name}",
            fingerprint="0" * 64,
        )
    )
    return factory


def make_eligible(factory, now: datetime) -> None:
    this_month = figures.trend_months(now)[-1]
    tasks = db.session.scalars(
        select(Task).where(Task.factory_id == factory.id, Task.stage == factory.stage)
    )
    for task in tasks:
        if task.kind == "measured":
            db.session.add(
                MetricSnapshot(
                    factory=factory,
                    metric_code=task.metric_code,
                    month=this_month,
                    value=task.target_value + 3,
                )
            )
        else:
            task.status = "done"


@pytest.fixture
def people(live_db):
    now = datetime.now(UTC)
    team = builders.team("Yongkang hardware")
    belt = builders.belt(team, code="yongkang-hardware")
    rep = builders.user("rep", team_=team)
    manager = builders.user("manager", leads=[team])
    waiting = junior_factory(belt, rep, "永康市恒达五金制品有限公司", now)
    ready = junior_factory(belt, rep, "永康市金盛工贸有限公司", now)
    live_db.flush()
    builders.follow_up(waiting, rep, now + timedelta(hours=1), reason="Promotion review")
    make_eligible(ready, now)
    make_eligible(waiting, now)
    # The junior factory that the manager looks at: items left, one target missed.
    behind = junior_factory(belt, rep, "永康市新概念杯业有限公司", now)
    live_db.commit()
    return {
        "rep": rep.email,
        "manager": manager.email,
        "behind": behind.id,
        "waiting": waiting.id,
        "ready": ready.id,
    }


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_manager_sees_stage_progress_and_first_blocking_item_on_the_first_screen(
    page, page_guard, people, viewport
):
    sign_in(page, people["manager"])
    page.goto(f"/factories/{people['behind']}")
    expect(page.get_by_role("heading", name="永康市新概念杯业有限公司", level=1)).to_be_visible()
    head = page.locator(".factory-head")
    expect(head.get_by_text("Junior high")).to_be_visible()
    expect(head.get_by_text("47 days in stage")).to_be_visible()
    expect(head.get_by_text("0 of 4 required done")).to_be_visible()
    box = page.locator("#eligibility")
    expect(box.get_by_role("heading", name="4 of 4 left:")).to_be_visible()
    expect(box.get_by_role("listitem").first).to_be_visible()
    expect(box).to_contain_text("Inquiries answered within 3 minutes 73 %, at least 80 %")
    bottom = box.bounding_box()
    assert bottom is not None
    assert bottom["y"] + bottom["height"] <= viewport["height"], "the box runs below the fold"
    expect(page.locator("#figures svg.sparkline")).to_have_count(1)
    expect(page.get_by_role("link", name=re.compile("Call 王丽"))).to_have_attribute(
        "href", "tel:13812345678"
    )
    page_guard.check(page)
    page_guard.screenshot(f"factory-page-manager-{viewport['width']}", page)


def test_rep_requests_a_promotion_and_the_manager_promotes_directly(page, page_guard, people):
    sign_in(page, people["rep"])
    page_guard.check(page)  # Today, where the factory's name is the way in
    page_guard.screenshot("today-factory-link-390", page)
    page.get_by_role("link", name="永康市恒达五金制品有限公司").click()
    expect(page).to_have_url(re.compile(rf"/factories/{people['waiting']}$"))
    expect(page.get_by_role("heading", name="Ready for High school")).to_be_visible()
    page.get_by_label("Note for the manager (optional)").fill("所有项目已完成，数据达标。")
    page.get_by_role("button", name="Request promotion to High school").click()
    expect(page.get_by_text("Promotion to High school requested.")).to_be_visible()
    expect(page.get_by_text("Waiting for a manager's decision").first).to_be_visible()
    expect(page.get_by_role("button", name="Request promotion to High school")).to_have_count(0)
    page_guard.check(page)
    page_guard.screenshot("factory-page-rep-requested-390", page)
    sign_out(page)

    sign_in(page, people["manager"])
    page.goto(f"/factories/{people['waiting']}")
    expect(page.locator("#stage-action")).to_contain_text("asked for High school")
    page.goto(f"/factories/{people['ready']}")
    page.get_by_role("button", name="Promote to High school").click()
    expect(page.get_by_text("Moved to High school.")).to_be_visible()
    expect(page.locator(".factory-head").get_by_text("High school")).to_be_visible()
    expect(page.locator("#checklist")).to_contain_text("Operator named")
    history = page.locator("#history")
    expect(history.get_by_role("listitem").first).to_contain_text("Junior high → High school")
    page_guard.check(page)
    page_guard.screenshot("factory-page-manager-promoted-390", page)


def test_a_refused_figure_shows_its_message_by_the_field(page, page_guard, people):
    page_guard.expect_console_error(r"status of 422")
    sign_in(page, people["rep"])
    page.goto(f"/factories/{people['behind']}")
    form = page.locator("#enter-figures")
    form.get_by_label("Value").fill("120")
    form.get_by_role("button", name="Save figure").click()
    expect(form.get_by_text("Enter a value from 0 to 100.")).to_be_visible()
    expect(form.get_by_label("Value")).to_be_focused()
    page_guard.check(page)
    page_guard.screenshot("factory-page-figure-refused-390", page)
