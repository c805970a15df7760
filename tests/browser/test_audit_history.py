"""A factory's History tab on a rep's phone, and the admin's new-user form showing only the
fields of the role chosen."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from crm.services.factories import reassign
from crm.services.install import audit
from tests import builders
from tests.browser.guard import DESKTOP
from tests.browser.test_admin_console import sign_in


@pytest.fixture
def world(live_db) -> dict:
    team = builders.team("Yongkang team")
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    rep.name = "Chen Rep"
    other = builders.user("rep", team_=team)
    other.name = "Zhou Rep"
    admin = builders.user("admin")
    factory = builders.factory(belt, owner=other, name="Hengda Hardware")
    now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    reassign.reassign(admin, [factory], rep, now)
    audit.record(rep, "factory", factory.id, "update", {"address": ("Old Rd 1", "New Rd 2")})
    live_db.commit()
    return {"rep": rep.email, "admin": admin.email, "factory": factory.id}


def test_a_rep_reads_a_factorys_history_on_a_phone(page, page_guard, world):
    sign_in(page, world["rep"])
    page.goto(f"/factories/{world['factory']}")
    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", name="Hengda Hardware", level=1)).to_be_visible()
    entries = page.locator(".ac-entry")
    expect(entries).to_have_count(2)
    expect(entries.first).to_contain_text("Address")
    expect(entries.nth(1)).to_contain_text("Owner")
    expect(entries.nth(1)).to_contain_text("Zhou Rep")
    expect(entries.nth(1)).to_contain_text("Chen Rep")
    page_guard.check(page)
    page_guard.screenshot("factory-history-rep-390", page)


@pytest.mark.parametrize("viewport", [DESKTOP])
def test_the_new_user_form_shows_only_the_chosen_roles_fields(page, page_guard, world):
    sign_in(page, world["admin"])
    page.goto("/admin/users/new")
    team = page.get_by_label("Team (field staff)")
    factory = page.get_by_label("Factory (factory user)")
    expect(team).to_be_hidden()
    expect(factory).to_be_hidden()
    page.get_by_label("Role").select_option("factory")
    expect(factory).to_be_visible()
    expect(team).to_be_hidden()
    page.get_by_label("Role").select_option("rep")
    expect(team).to_be_visible()
    expect(factory).to_be_hidden()
    page_guard.check(page)
    page_guard.screenshot("admin-user-new-rep-1280", page)
