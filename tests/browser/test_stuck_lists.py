"""The stuck lists on a manager's desk (1280x800), in English and Chinese: long in stage the
farthest past first, a visit planned and shown on its row, a reassignment that asks for a rep
and confirms, Promote beside Plan a visit; and the manager's inbox grouped by kind on a phone
and a desk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from crm.models import Notification
from tests import builders
from tests.browser.guard import DESKTOP, PHONE
from tests.browser.test_homes import sign_in

WORDS = {
    "en": {
        "long": "Long in stage",
        "eligible": "Eligible, not requested",
        "week": "In a week",
        "planned": "Visit planned",
        "reassign": "Reassign…",
        "promote": "Promote to Junior high",
        "inbox": "Inbox",
    },
    "zh_Hans": {
        "long": "阶段停留过久",
        "eligible": "可升级但未申请",
        "week": "一周后",
        "planned": "已安排拜访",
        "reassign": "改派…",
        "promote": "升级到初中",
        "inbox": "消息中心",
    },
}


@pytest.fixture
def desk(live_db, request):
    locale = request.param
    team = builders.team("Ningbo and Yongkang")
    belt = builders.belt(team, code="yongkang-hardware")
    wang = builders.user("rep", team_=team)
    li = builders.user("rep", team_=team)
    wang.name, li.name = "Wang Lei", "Li Na"
    manager = builders.user("manager", leads=[team], locale=locale)
    now = datetime.now(UTC)

    def made(name, stage, days, **fields):
        factory = builders.factory(
            belt,
            owner=wang,
            stage=stage,
            name=name,
            last_visit_at=now - timedelta(days=2),
            **fields,
        )
        factory.stage_entered_at = now - timedelta(days=days)
        return factory

    made("永康市恒达五金制品有限公司", "elementary", 95)
    made("Ningbo Ocean Textiles", "junior", 150)
    made("宁波市海曙区恒达纺织有限公司", "university", 900)
    made("Yongkang Bright Tools", "elementary", 20, eligible_since=now - timedelta(days=6))
    for n in range(30):
        db.session.add(
            Notification(
                user_id=manager.id,
                kind="factory_stale",
                title=f"Factory {n:02d} has not been visited for 16 days",
                created_at=now - timedelta(hours=5, minutes=n),
                read_at=None if n < 4 else now,
            )
        )
    db.session.add(
        Notification(
            user_id=manager.id,
            kind="factory_eligible",
            title="12 factories became ready for their next stage",
            body="Yongkang Bright Tools\nNingbo Ocean Textiles\nand 10 more\n"
            "Promote them, or plan a visit, from the stuck list.",
            link="/pipeline/stuck?kind=eligible",
            created_at=now - timedelta(hours=1),
        )
    )
    db.session.add(
        Notification(
            user_id=manager.id,
            kind="digest",
            title="Weekly digest: 2026-11-16 to 2026-11-22",
            body="Stage moves: 2\nVisits per rep: Li Na 14, Wang Lei 9",
            created_at=now - timedelta(days=2),
            read_at=now - timedelta(days=1),
        )
    )
    live_db.commit()
    return {"manager": manager, "wang": wang, "li": li, "locale": locale}


@pytest.mark.parametrize("desk", ["en", "zh_Hans"], indirect=True)
@pytest.mark.parametrize("viewport", [DESKTOP], ids=["1280"])
def test_a_manager_acts_on_the_stuck_lists(page, page_guard, desk, viewport):
    words = WORDS[desk["locale"]]
    sign_in(page, desk["manager"].email)
    page.goto("/pipeline/stuck?kind=long")
    rows = page.locator(".stuck-row")
    # 35 days past Elementary's 60 before 30 past Junior's 120; University is never listed.
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("永康市恒达五金制品有限公司")
    expect(rows.nth(1)).to_contain_text("Ningbo Ocean Textiles")

    first = rows.nth(0)
    first.get_by_role("button", name=words["week"]).click()
    first = page.locator(".stuck-row").nth(0)
    expect(first.locator(".stuck-planned")).to_contain_text(words["planned"])
    expect(first.locator(".stuck-planned")).to_contain_text("Wang Lei")
    page_guard.check(page)
    page_guard.screenshot(f"stuck-long-1280-{desk['locale']}", page)

    first.locator("select[name=to_rep]").select_option(label="Li Na")
    first.get_by_role("button", name=words["reassign"]).click()
    expect(page.locator(".stuck-confirm")).to_contain_text("Li Na")
    page_guard.check(page)
    page_guard.screenshot(f"stuck-reassign-confirm-1280-{desk['locale']}", page)
    page.locator(".stuck-confirm button[type=submit]").click()
    expect(page.locator(".stuck-row").nth(0).locator(".row-meta")).to_contain_text("Li Na")

    page.get_by_role("link", name=words["eligible"]).click()
    row = page.locator(".stuck-row").nth(0)
    expect(row.get_by_role("button", name=words["promote"])).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"stuck-eligible-1280-{desk['locale']}", page)
    row.get_by_role("button", name=words["promote"]).click()
    expect(page.locator(".stuck-row")).to_have_count(0)


@pytest.mark.parametrize("desk", ["en", "zh_Hans"], indirect=True)
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_a_manager_s_inbox_is_grouped_by_kind(page, page_guard, desk, viewport):
    sign_in(page, desk["manager"].email)
    page.goto("/inbox/")
    expect(
        page.get_by_role("heading", name=WORDS[desk["locale"]]["inbox"], level=1)
    ).to_be_visible()
    groups = page.locator(".inbox-group")
    expect(groups).to_have_count(3)
    expect(groups.nth(0)).to_contain_text("12 factories became ready for their next stage")
    expect(groups.nth(1).locator(".inbox-item")).to_have_count(3)
    page_guard.check(page)
    page_guard.screenshot(f"inbox-grouped-{viewport['width']}-{desk['locale']}", page)
    groups.nth(1).locator(".inbox-group-more a").click()
    expect(page.locator(".inbox-item")).to_have_count(30)
    page_guard.check(page)
    page_guard.screenshot(f"inbox-one-kind-{viewport['width']}-{desk['locale']}", page)
