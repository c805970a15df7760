"""The bell and the inbox on a phone and a desk, and the admin's jobs page following a "run now"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from crm.jobs import scheduler
from crm.models import Notification
from tests import builders
from tests.browser.guard import DESKTOP, PHONE
from tests.browser.test_homes import sign_in

DIGEST = (
    "Stage moves: 2\n"
    "  • 永康市恒达五金制品有限公司: Elementary → Junior high\n"
    "  • Ningbo Ocean Textiles: Junior high → High school\n"
    "Overdue follow-ups by rep: Wang Lei 3, Li Na 1\n"
    "Stale factories by rep: Wang Lei 2\n"
    "Visits per rep: Li Na 14, Wang Lei 9, Zhao Min 0\n"
    "Eligible factories waiting: 1\n"
    "  • 宁波市海曙区恒达纺织有限公司, waiting 4 days"
)


@pytest.fixture
def people(live_db):
    team = builders.team("Ningbo and Yongkang")
    belt = builders.belt(team, code="yongkang-hardware")
    rep = builders.user("rep", team_=team)
    manager = builders.user("manager", leads=[team])
    factory = builders.factory(belt, owner=rep, name="永康市恒达五金制品有限公司")
    now = datetime.now(UTC)
    items = [
        (
            rep,
            "follow_up_overdue",
            "Overdue follow-up: 永康市恒达五金制品有限公司 (due 2026-11-24 10:00)",
            "Bring the training slides",
            50,
        ),
        (rep, "follow_up_due_soon", "Follow-up at 10:30: Ningbo Ocean Textiles", "", 20),
        (rep, "factory_stale", "Yongkang Bright Tools has not been visited for 16 days", "", 5),
        (manager, "digest", "Weekly digest: 2026-11-16 to 2026-11-22", DIGEST, 5),
        (
            manager,
            "factory_eligible",
            "永康市恒达五金制品有限公司 is ready for its next stage",
            "",
            60,
        ),
    ]
    for user, kind, title, body, minutes in items:
        db.session.add(
            Notification(
                user_id=user.id,
                kind=kind,
                title=title,
                body=body,
                factory_id=factory.id,
                created_at=now - timedelta(minutes=minutes),
            )
        )
    db.session.add(
        Notification(
            user_id=rep.id,
            kind="stage_change_approved",
            title="永康市恒达五金制品有限公司: stage change approved",
            factory_id=factory.id,
            created_at=now - timedelta(days=2),
            read_at=now - timedelta(days=1),
        )
    )
    admin = builders.user("admin")
    live_db.commit()
    return {"rep": rep, "manager": manager, "admin": admin, "factory": factory}


def bell(page):
    return page.locator("header .inbox-bell")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_the_bell_leads_to_the_inbox_where_items_are_opened_and_marked_read(
    page, page_guard, people, viewport
):
    sign_in(page, people["rep"].email)
    expect(bell(page)).to_have_accessible_name("Inbox, 3 unread")
    expect(bell(page)).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"inbox-bell-{viewport['width']}", page)

    bell(page).click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    # Grouped by kind: four kinds, one item each.
    expect(page.locator(".inbox-group")).to_have_count(4)
    expect(page.locator(".inbox-item")).to_have_count(4)
    page_guard.check(page)
    page_guard.screenshot(f"inbox-list-{viewport['width']}", page)

    page.get_by_role("button", name=re.compile("^Mark read: Follow-up at 10:30")).click()
    expect(bell(page)).to_have_accessible_name("Inbox, 2 unread")

    page.get_by_role("button", name=re.compile("^Unread: Overdue follow-up")).click()
    expect(page).to_have_url(re.compile(rf"/factories/{people['factory'].id}$"))
    expect(bell(page)).to_have_accessible_name("Inbox, 1 unread")
    page_guard.check(page)

    page.goto("/inbox/")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_text("Marked 1 notifications read.")).to_be_visible()
    expect(bell(page)).to_have_accessible_name("Inbox")
    page.get_by_role("link", name="Unread").click()
    expect(page.get_by_text("Nothing unread. You are up to date.")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"inbox-empty-{viewport['width']}", page)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_a_managers_digest_reads_well_in_the_inbox(page, page_guard, people, viewport):
    sign_in(page, people["manager"].email)
    bell(page).click()
    expect(page.get_by_text("Visits per rep: Li Na 14, Wang Lei 9, Zhao Min 0")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"inbox-digest-{viewport['width']}", page)
    page.goto("/account/")
    expect(page.get_by_role("group", name="Also send me an e-mail when")).to_be_visible()
    expect(page.get_by_label("The weekly digest of my teams")).to_be_checked()
    page_guard.check(page)
    page_guard.screenshot(f"inbox-email-choices-{viewport['width']}", page)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_the_jobs_page_follows_a_run_now_until_the_scheduler_has_done_it(
    app, page, page_guard, people, viewport
):
    runner = scheduler.Runner(app, holder="browser-test")
    try:
        runner.tick()  # the scheduler process leads and has run each job once
        sign_in(page, people["admin"].email)
        page.goto("/admin/jobs")
        expect(page.get_by_role("heading", name="Scheduled jobs", level=1)).to_be_visible()
        page_guard.check(page)
        page_guard.screenshot(f"jobs-page-{viewport['width']}", page)

        page.get_by_role("button", name="Run now: Follow-up reminders").click()
        expect(page.get_by_text("waiting for the scheduler process")).to_be_visible()
        runner.work_once()
        # The page polls while a run is in hand, and shows the manual run once it is done.
        expect(page.get_by_text("waiting for the scheduler process")).to_have_count(0, timeout=8000)
        runs = page.get_by_role("list", name="Last runs of Follow-up reminders")
        expect(runs.get_by_text(re.compile(r"^now-\d+$"))).to_be_visible()
        page_guard.check(page)
    finally:
        runner.stop()
