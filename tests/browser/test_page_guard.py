"""The page guard catches each problem it is for: a guard that cannot fail is a defect."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.guard import GuardFailure, PageGuard


def recorded(guard: PageGuard, page, kind: str) -> list[str]:
    """Problems of one kind, after polling the page so that pending events arrive."""
    for _ in range(40):
        found = [problem.detail for problem in guard.problems() if problem.kind == kind]
        if found:
            return found
        page.wait_for_timeout(25)
    return []


def csp_reports(guard: PageGuard, page) -> list[str]:
    """A violation is heard twice, as a console error and as a securitypolicyviolation event;
    wait for both so that neither arrives after the test has cleared the guard."""
    for _ in range(40):
        found = recorded(guard, page, "csp")
        if len(found) >= 2:
            assert any(detail.startswith("console:") for detail in found), found
            assert any(detail.startswith("securitypolicyviolation:") for detail in found), found
            return found
        page.wait_for_timeout(25)
    raise AssertionError(f"a CSP violation was not heard on both channels: {found}")


def test_a_clean_page_passes_the_guard(page, page_guard):
    page.goto("/login")
    page_guard.check(page)
    assert page_guard.problems() == []


def test_an_inline_style_attribute_is_a_csp_violation(page, page_guard):
    page.goto("/login")
    page.evaluate(
        "() => document.querySelector('main').appendChild(document.createElement('p'))"
        ".setAttribute('style', 'color: red')"
    )
    found = csp_reports(page_guard, page)
    assert all("style-src" in detail for detail in found), found
    page_guard.clear()


def test_an_inline_script_element_is_a_csp_violation(page, page_guard):
    page.goto("/login")
    page.evaluate(
        "() => { const script = document.createElement('script');"
        " script.textContent = 'window.ran = true'; document.body.append(script); }"
    )
    found = csp_reports(page_guard, page)
    assert all("script-src" in detail for detail in found), found
    assert page.evaluate("() => window.ran") is None
    page_guard.clear()


def test_an_undeclared_console_error_is_a_problem(page, page_guard):
    page.goto("/login")
    page.evaluate("() => console.error('the outbox lost an item')")
    assert recorded(page_guard, page, "console")
    with pytest.raises(GuardFailure, match="the outbox lost an item"):
        page_guard.check(page)
    page_guard.clear()


def test_a_declared_console_error_is_not_a_problem(page, page_guard):
    page_guard.expect_console_error(r"status of 404")
    page.goto("/no-such-page")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page_guard.check(page)


def test_an_uncaught_script_error_is_a_problem(page, page_guard):
    page.goto("/login")
    page.evaluate("() => { setTimeout(() => { throw new Error('swipe handler broke'); }); }")
    assert any(
        "swipe handler broke" in detail for detail in recorded(page_guard, page, "page-error")
    )
    page_guard.clear()


def test_a_request_to_another_host_is_recorded_and_aborted(page, page_guard):
    page.goto("/login")
    # The CSP already stops images and fetches to other hosts, but not a link the rep follows.
    page.evaluate(
        "() => { const link = document.createElement('a'); link.textContent = 'Supplier site';"
        " link.href = 'http://example.com/leak?who=rep';"
        " document.querySelector('main').append(link); }"
    )
    page.get_by_role("link", name="Supplier site").click()
    expect(page).to_have_url(re.compile(r"^chrome-error:"))
    assert recorded(page_guard, page, "request") == [
        "GET http://example.com/leak?who=rep (aborted)"
    ]
    page_guard.clear()
    page.goto("/login")


def test_an_element_wider_than_the_phone_scrolls_sideways(page, page_guard):
    page.goto("/login")
    # Set through the CSSOM, which style-src 'self' allows, unlike a style attribute.
    page.evaluate(
        "() => { const wide = document.createElement('div'); wide.textContent = 'wide';"
        " wide.style.width = '600px'; document.querySelector('main').append(wide); }"
    )
    with pytest.raises(GuardFailure, match="scrolls sideways"):
        page_guard.check(page)
    assert [problem.kind for problem in page_guard.problems()] == ["scroll"]
    page_guard.clear()
    page.reload()


def test_an_image_without_alt_text_is_a_critical_axe_violation(page, page_guard):
    page.goto("/login")
    page.evaluate(
        "() => { const image = document.createElement('img'); image.src = '/favicon.ico';"
        " document.querySelector('main').append(image); }"
    )
    found = page_guard.inspect(page)
    assert [problem.kind for problem in found] == ["axe"], found
    assert "image-alt (critical)" in found[0].detail
    page_guard.clear()
    page.reload()
