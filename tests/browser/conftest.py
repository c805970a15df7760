"""Browser tests: a live server per worker, committed rows emptied around each test, Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.guard import PHONE, GuardFailure, PageGuard

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
# The flags of the machine notes: without the background-networking ones Chromium keeps
# calling Google's hosts, which this closed network refuses. The fake media devices let
# MediaRecorder and getUserMedia work headless.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
GUARD = pytest.StashKey[PageGuard]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser/ carries the `browser` marker (`-m "not browser"`)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After the test body the guard checks the final page; a failure leaves a screenshot."""
    guard = item.stash.get(GUARD, None)
    if guard is None:
        return (yield)
    try:
        result = yield
        guard.finish()
    except (Exception, pytest.fail.Exception) as error:
        shot = _screenshot_quietly(guard)
        told = isinstance(error, GuardFailure) or not guard.problems()
        lines = [] if told else [guard.report()]
        lines.append(f"screenshot: {shot}" if shot else "no screenshot: the page is gone")
        item.add_report_section("call", "page guard", "\n".join(lines))
        raise
    return result


def _screenshot_quietly(guard: PageGuard) -> Path | None:
    # The page may be gone with the failure (a crash, a closed context): keep the real error.
    try:
        return guard.screenshot(f"{guard.name}-failure")
    except Exception:
        return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium per worker; every test gets a new context of it."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(
            f"BROWSER TESTS NOT RUN: {CHROMIUM} is missing. Install Debian's Chromium "
            "(apt-get install chromium); under CI=true this skip fails the run."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def viewport() -> dict[str, int]:
    """390x844 unless a test says otherwise: @pytest.mark.parametrize("viewport", [DESKTOP])."""
    return PHONE


@pytest.fixture
def page_guard(request, browser, live_server, live_db, viewport) -> Iterator[PageGuard]:
    """A fresh context on the live server, watched by a PageGuard (see guard.py)."""
    context = browser.new_context(viewport=viewport, base_url=live_server)
    context.set_default_timeout(5_000)
    guard = PageGuard(context, f"{request.node.path.stem}-{request.node.name}")
    request.node.stash[GUARD] = guard
    try:
        yield guard
    finally:
        del request.node.stash[GUARD]
        context.close()


@pytest.fixture
def page(page_guard):
    """The guarded page: call `page_guard.check(page)` after each navigation."""
    return page_guard.page
