"""An admin records a pre-standard credit code in Chromium, on phone and desk, in English and
Chinese: the edit page asks for the reason by its field, and the factory page then shows it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.services.factories import credit_code
from tests import builders
from tests.browser.guard import DESKTOP, PHONE
from tests.browser.test_homes import sign_in

REASON = "厦门试点期间赋码，早于国家标准；与营业执照一致。"


def pilot_code() -> str:
    """Of Xiamen (350200), its organisation code right, its 18th character not."""
    first17 = "91350200M0000123" + credit_code.organisation_check("M0000123")
    right = credit_code.check_digit(first17)
    return first17 + next(char for char in credit_code.ALPHABET if char != right)


@pytest.fixture
def people(live_db, request):
    locale = request.param
    team = builders.team("Xiamen bags")
    belt = builders.belt(team, code="xiamen-bags")
    rep = builders.user("rep", team_=team)
    prospect = builders.factory(belt, owner=rep, status="prospect", name="厦门市鹭岛箱包有限公司")
    prospect.credit_code = None
    admin = builders.user("admin", locale=locale)
    live_db.commit()
    return {"admin": admin.email, "prospect": prospect.id, "locale": locale}


@pytest.mark.parametrize("people", ["en", "zh_Hans"], indirect=True)
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desk"])
def test_admin_records_a_pilot_code_with_a_reason_and_the_page_shows_it(
    page, page_guard, people, viewport
):
    size = "phone" if viewport == PHONE else "desk"
    name = f"credit-override-{people['locale']}-{size}"
    sign_in(page, people["admin"])
    page.goto(f"/factories/{people['prospect']}/edit")
    code_field = page.locator("#credit_code")
    reason_field = page.locator("#credit_code_override_reason")
    code_field.fill(pilot_code())
    page_guard.expect_console_error("422")
    page.locator("form.fe-form button[type=submit]").click()
    expect(page.locator("#credit_code_override_reason-error")).to_be_visible()
    expect(page.locator("#credit_code-error")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"{name}-edit-refused")

    page.locator("#credit_code_override_reason").fill(REASON)
    expect(reason_field).to_have_value(REASON)
    page.locator("form.fe-form button[type=submit]").click()
    expect(page.locator(".fp-override").first).to_contain_text(REASON)
    expect(page.locator(".fp-code")).to_have_text(pilot_code())
    page_guard.check(page)
    page.locator("#reach").scroll_into_view_if_needed()
    page_guard.screenshot(f"{name}-factory")
