"""Every page of every role on a 390 px phone passes the page guard: 44 px tap targets, no
sideways scrolling, axe, the CSP (issue 26, point 8). The pages are found by following the
links each role sees, from its home, so a new page is checked without a list to keep."""

from __future__ import annotations

import re
from collections import deque
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from crm.clock import now
from crm.models import Factory, User
from crm.services.growth import stages
from tests import builders
from tests.browser import test_homes
from tests.browser.guard import GuardFailure
from tests.browser.test_homes import sign_in

people = test_homes.people  # the fixture of the four roles, for world() to build on

PAGES_PER_ROLE = 60
# Links that are not pages: files, exports, and what leaves the session.
NOT_PAGES = re.compile(
    r"/(logout|export|files?|photos?|voice|download)\b|/imports/template|\.(csv|xlsx|json|jpg)$"
)


@pytest.fixture
def world(request, live_db):
    """The four roles of test_homes, and a rep's factory with a day's work on it: a follow-up
    due, a contact, a visit and its stage's tasks, so that every section of a page is drawn."""
    people = request.getfixturevalue("people")
    rep = live_db.scalar(select(User).where(User.email == people["rep"]))
    served = live_db.scalar(select(Factory).where(Factory.name == "永康市恒达五金制品有限公司"))
    stages.create_stage_tasks(served, "junior", now())
    builders.contact(served)
    builders.visit(served, rep, summary="店铺照片已重拍")
    builders.follow_up(served, rep, now() - timedelta(hours=2), reason="Check the shop photos")
    live_db.commit()
    return people


def shape(path: str) -> str:
    """One page per shape: /factories/12 and /factories/13 are the same page."""
    return re.sub(r"\d+", "N", path)


def links(page, origin: str) -> list[str]:
    hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a[href]'), a => a.href)")
    found = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != origin or NOT_PAGES.search(parts.path):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


@pytest.mark.parametrize("role", ["anonymous", "rep", "manager", "admin", "factory"])
def test_every_page_a_role_reaches_passes_the_guard_on_a_phone(
    page, page_guard, world, live_server, role
):
    page_guard.expect_console_error(r"status of 4\d\d")  # a link that answers a refusal
    if role == "anonymous":
        page.goto("/login")  # the sign-in page and what it links to (forgot, reset)
    else:
        sign_in(page, world[role])
    page.wait_for_load_state("load")
    origin = f"{urlsplit(live_server).scheme}://{urlsplit(live_server).netloc}"
    queue = deque([urlsplit(page.url).path])
    seen: set[str] = set()
    failures = []
    while queue and len(seen) < PAGES_PER_ROLE:
        path = queue.popleft()
        if shape(urlsplit(path).path) in seen:
            continue
        seen.add(shape(urlsplit(path).path))
        response = page.goto(path)
        if response is None or response.status >= 400 or not page.url.startswith(origin):
            continue
        try:
            page_guard.check(page)
        except GuardFailure as failure:
            failures.append(str(failure))
            page_guard.clear()
        queue.extend(links(page, origin))
    assert len(seen) >= 3, seen
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)
