"""Each page imports only the app's modules that it needs: app.js, then those of its elements."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests import builders
from tests.browser.test_homes import sign_in

MODULE = re.compile(r"/static/(?:[0-9a-f]{10}/)?js/([\w-]+\.js)(?:\?|$)")


@pytest.fixture
def rep_and_factory(live_db):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep, stage="elementary")
    live_db.commit()
    return {"rep": rep.email, "factory_id": factory.id}


class Modules:
    """The app's own scripts that the page in front of the test has requested."""

    def __init__(self, page) -> None:
        self.page = page
        self.names: set[str] = set()
        page.on("request", self._on_request)

    def _on_request(self, request) -> None:
        found = MODULE.search(request.url)
        if found and request.service_worker is None:
            self.names.add(found.group(1))

    def of(self, path: str, expected: set[str]) -> set[str]:
        """Open path; once the expected modules have come, wait a little for any others."""
        self.names = set()
        self.page.goto(path)
        deadline = time.monotonic() + 5
        while not expected <= self.names and time.monotonic() < deadline:
            self.page.wait_for_timeout(50)
        self.page.wait_for_timeout(300)  # the entry imports at once: a stray one comes by now
        return self.names


def test_each_page_loads_only_the_modules_it_needs(page, page_guard, rep_and_factory):
    modules = Modules(page)
    # Signed out: the entry alone (no outbox to send, no service worker to keep).
    assert modules.of("/login", {"app.js"}) == {"app.js"}
    page_guard.check(page)

    sign_in(page, rep_and_factory["rep"])
    expect(page).to_have_url(re.compile("/today$"))
    expected = {
        # Every staff page sends what waits in the outbox and says when it is offline; a page
        # with field actions sends them through the outbox.
        # No follow-ups: no actions; Near me asks location.js whether the rep consents.
        "/today": {"app.js", "outbox.js", "offline.js", "route.js", "location.js"},
        f"/factories/{rep_and_factory['factory_id']}": {
            "app.js",
            "outbox.js",
            "offline.js",
            "actions.js",
        },
        f"/visit?factory={rep_and_factory['factory_id']}": {
            "app.js",
            "outbox.js",
            "offline.js",
            "visit-form.js",
            "photos.js",
            "recorder.js",
            "check-in-distance.js",
            "location.js",
        },
        "/pipeline/board": {"app.js", "outbox.js", "offline.js", "board.js"},
    }
    for path, names in expected.items():
        assert modules.of(path, names) == names, path
        page_guard.check(page)

    # The modules did their work: Today's buttons show, the board drags, the recorder is in.
    page.goto("/today")
    expect(page.get_by_role("button", name="Near me")).to_be_enabled()
    page.goto("/pipeline/board")
    expect(page.locator("[data-board].board-draggable")).to_have_count(1)
    page.goto(f"/visit?factory={rep_and_factory['factory_id']}")
    expect(page.get_by_role("button", name="Record a voice note")).to_be_visible()
    scripts = page.evaluate("() => Array.from(document.scripts).map(s => [s.src, s.type])")
    own = [(src.rsplit("/", 1)[-1], kind) for src, kind in scripts if "/vendor/" not in src]
    assert own == [("app.js", "module")]
    page_guard.check(page)
