"""The import in Chromium: upload, a dry-run report, map a header, confirm, progress to done."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.extensions import db
from crm.models import Factory
from crm.services.install import work
from tests import builders
from tests.browser.guard import DESKTOP, PHONE
from tests.browser.test_homes import sign_in


@pytest.fixture
def people(live_db):
    team = builders.team("Yongkang hardware")
    belt = builders.belt(team, code="yongkang-hardware")
    belt.name_zh, belt.name_en = "永康五金", "Yongkang hardware"
    manager = builders.user("manager", leads=[team])
    live_db.commit()
    return {"manager": manager.email}


def drain() -> None:
    """What the scheduler process does within seconds: claim and do the pending work."""
    db.session.remove()  # a fresh session: the page's request committed the work since
    assert work.drain("browser-test-scheduler")
    db.session.remove()


def sheet(codes: list[str]) -> bytes:
    lines = ["Tax number,企业名称,产业带,联系人,联系电话"]
    lines += [
        f"{code},永康市第{n}五金厂,永康五金,王经理,+86 138 0000 000{n}"
        for n, code in enumerate(codes)
    ]
    return ("\r\n".join(lines) + "\r\n").encode("gb18030")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP])
def test_a_manager_uploads_checks_maps_a_header_confirms_and_sees_it_done(
    page, page_guard, people, app, monkeypatch, viewport
):
    # Every check and apply is a work request here, done by the scheduler's work loop (drained
    # by this test), so the page waits, then its progress bar polls to the end.
    monkeypatch.setitem(app.config, "CRM_IMPORT_INLINE_ROWS", 0)
    codes = [builders.credit_code(8100 + n) for n in range(3)]
    sign_in(page, people["manager"])
    page.goto("/imports/")
    expect(page.get_by_role("heading", name="Import factories and figures")).to_be_visible()
    page_guard.check(page)

    page.get_by_label("Spreadsheet").set_input_files(
        files=[{"name": "工厂.csv", "mimeType": "text/csv", "buffer": sheet(codes)}]
    )
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page.get_by_role("heading", name="Which column holds what")).to_be_visible()
    expect(page.get_by_label("企业名称")).to_have_value("name")
    expect(page.get_by_label("Tax number")).to_have_value("")
    page_guard.check(page)

    page.get_by_role("button", name="Check the file (imports nothing)").click()
    expect(page.locator(".im-progress-text")).to_have_text("Waiting to start…")
    page_guard.check(page)
    drain()
    report = page.locator(".im-report")
    expect(report.get_by_role("heading")).to_have_text("1 problem: nothing was imported")
    expect(report).to_contain_text("No column holds this")
    page_guard.check(page)

    page.get_by_label("Tax number").select_option("credit_code")
    page.get_by_role("button", name="Check the file (imports nothing)").click()
    expect(page.get_by_role("heading", name="Checking the file")).to_be_visible()
    drain()
    expect(page.get_by_role("heading", name="Every row is good")).to_be_visible(timeout=15_000)
    expect(page.locator(".im-ready")).to_contain_text("add 3, change 0 and leave 0")
    page_guard.check(page)

    page.get_by_role("button", name="Import 3 rows").click()
    expect(page.locator(".im-progress-text")).to_have_text("Waiting to start…")
    drain()
    expect(page.get_by_text("Imported: 3 new, 0 changed, 0 unchanged.")).to_be_visible(
        timeout=15_000
    )
    page_guard.check(page)
    db.session.rollback()
    names = db.session.scalars(
        select(Factory.name).where(Factory.credit_code.in_(codes)).order_by(Factory.name)
    ).all()
    assert names == ["永康市第0五金厂", "永康市第1五金厂", "永康市第2五金厂"]
