"""Pages light enough for a weak signal, and an app for the home screen (issue 26, points 6, 7).

Each field and portal page, opened at 390x844 in a browser with an empty cache, transfers at
most 150 KB, and at most 30 KB when it is opened again. Bytes are what Chromium received for
the page's own requests (CDP `Network.loadingFinished` encodedDataLength: headers and the
compressed body) plus the network requests that the service worker makes for the page while
it loads; the worker's own precache, made once when it installs, is not counted.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import timedelta

import pytest

from crm.clock import now
from crm.services.growth import stages
from tests import builders

FIRST_LOAD_MAX = 150 * 1024
SECOND_LOAD_MAX = 30 * 1024
FOLLOW_UPS = 37  # the demo rep's day that the issue weighed (Today's HTML was 89 KB)


@pytest.fixture
def people(live_db):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    belt = builders.belt(team)
    owned = []
    for n in range(FOLLOW_UPS):
        factory = builders.factory(belt, owner=rep, stage="junior", name=f"永康市恒达五金制品{n}厂")
        builders.follow_up(factory, rep, now() - timedelta(hours=1 + n), reason="Check the photos")
        owned.append(factory)
    stages.create_stage_tasks(owned[0], "junior", now())
    builders.contact(owned[0])
    builders.visit(owned[0], rep, summary="店铺照片已重拍")
    owner = builders.user("factory", factory=owned[0])
    live_db.commit()
    return {"rep": rep.email, "owner": owner.email, "factory_id": owned[0].id}


def sign_in_quietly(context, email: str) -> None:
    """Sign in through the context's request API: no page loads, so the cache stays empty."""
    login = context.request.get("/login").text()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login) or re.search(
        r'name="csrf-token" content="([^"]+)"', login
    )
    answer = context.request.post(
        "/login",
        form={"csrf_token": token.group(1), "login": email, "password": builders.PASSWORD},
        max_redirects=0,
    )
    assert answer.status in (302, 303), answer.text()[:500]


class Meter:
    """Counts the bytes of one page load: the page's requests through CDP, the worker's
    network requests through Playwright."""

    def __init__(self, context, page) -> None:
        self.page = page
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.cdp.on("Network.loadingFinished", self._on_finished)
        context.on("requestfinished", self._on_worker_request)
        self.counting = False
        self.through_worker = False
        self.page_bytes = 0
        self.worker_bytes = 0

    def _on_finished(self, event) -> None:
        if self.counting:
            self.page_bytes += int(event["encodedDataLength"])

    def _on_worker_request(self, request) -> None:
        # A page not yet controlled by the worker meets it only as it installs: what the
        # worker fetches then is its precache. A controlled page's pages come through it.
        if self.counting and self.through_worker and request.service_worker is not None:
            sizes = request.sizes()  # -1 for an answer the worker had cached
            self.worker_bytes += max(sizes["responseHeadersSize"], 0)
            self.worker_bytes += max(sizes["responseBodySize"], 0)

    def load(self, path: str, through_worker: bool = False) -> int:
        self.page_bytes = self.worker_bytes = 0
        self.through_worker = through_worker
        self.counting = True
        self.page.goto(path, wait_until="load")
        self.page.wait_for_timeout(500)  # lazy modules, the manifest
        self.counting = False
        return self.page_bytes + self.worker_bytes


def controlled(page) -> bool:
    for _ in range(100):
        if page.evaluate("() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)"):
            return True
        page.wait_for_timeout(50)
    return False


def pages(people) -> list[tuple[str, str, bool]]:
    factory = people["factory_id"]
    return [
        (people["rep"], "/today", True),
        (people["rep"], "/factories/", True),
        (people["rep"], f"/factories/{factory}", True),
        (people["rep"], f"/visit?factory={factory}", True),
        (people["owner"], "/portal/", False),
        (people["owner"], "/portal/team", False),
    ]


def test_every_field_and_portal_page_is_light_on_first_and_second_load(
    browser, live_server, people, viewport
):
    weights = {}
    for email, path, has_worker in pages(people):
        context = browser.new_context(viewport=viewport, base_url=live_server)
        try:
            sign_in_quietly(context, email)
            page = context.new_page()
            meter = Meter(context, page)
            first = meter.load(path)
            if has_worker:
                assert controlled(page), path  # the worker has installed and precached
            second = meter.load(path, through_worker=has_worker)
            weights[path] = (first, second)
        finally:
            context.close()
    print("\nbytes transferred, first and second load:")
    for path, (first, second) in weights.items():
        print(f"  {path}: {first} / {second}")
    for path, (first, second) in weights.items():
        assert first <= FIRST_LOAD_MAX, (path, first)
        assert second <= SECOND_LOAD_MAX, (path, second)


def test_chromium_finds_the_app_installable_for_a_rep_and_a_factory_user(
    browser, live_server, people, viewport
):
    # An ordinary Playwright context is incognito, which Chromium never finds installable:
    # a persistent context on a temporary profile (BROWSER-NOTES.md).
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    playwright = browser.browser_type
    for email, home in ((people["rep"], "/today"), (people["owner"], "/portal/")):
        profile = tempfile.mkdtemp(prefix="crm-install-")
        try:
            context = playwright.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport=viewport,
                base_url=live_server,
            )
            try:
                sign_in_quietly(context, email)
                page = context.new_page()
                page.goto("/")
                assert page.url.endswith(home)  # the manifest's start_url lands on the home
                cdp = context.new_cdp_session(page)
                manifest = cdp.send("Page.getAppManifest")
                assert manifest["url"].endswith("/manifest.webmanifest")
                assert not manifest.get("errors"), manifest["errors"]
                errors = []
                for _ in range(40):
                    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
                    if not errors:
                        break
                    page.wait_for_timeout(100)
                assert errors == [], (email, errors)
            finally:
                context.close()
        finally:
            shutil.rmtree(profile, ignore_errors=True)
