"""The page guard: fails a browser test on CSP violations, console errors, axe issues, leaks."""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Error, Page, Route

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE_SOURCE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"

# The viewports pages are checked at: a phone first (STYLE.md "Look and feel"), and a desktop.
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss"})
AXE_IMPACTS = ("serious", "critical")

# Init scripts run in every new document and are exempt from the page's CSP, as are bindings:
# the page itself needs no inline script for the guard to hear its violations.
CSP_BINDING = "__crmGuardCspViolation"
CSP_LISTENER = f"""
document.addEventListener("securitypolicyviolation", function (event) {{
  window.{CSP_BINDING}({{
    directive: event.effectiveDirective || event.violatedDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
  }});
}});
"""

AXE_RUN = """
async (impacts) => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((violation) => impacts.includes(violation.impact))
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.slice(0, 5).map((node) => node.target.join(" ")),
    }));
}
"""

PAGE_WIDTH = """
() => ({
  scroll: document.documentElement.scrollWidth,
  client: document.documentElement.clientWidth,
})
"""


@cache
def axe_source() -> str:
    return AXE_SOURCE.read_text(encoding="utf-8")


class GuardFailure(AssertionError):
    """The page guard's verdict: the test fails with every problem recorded so far."""


@dataclass(frozen=True)
class Problem:
    """One thing the guard refuses: kind is csp, console, page-error, request, axe, scroll or
    target (a tap target under 44 px on a phone)."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.detail}"


def is_foreign(url: str) -> bool:
    """A network request to a host other than this machine's loopback (data:, blob: are local)."""
    parts = urlsplit(url)
    return parts.scheme in NETWORK_SCHEMES and (parts.hostname or "") not in LOCAL_HOSTS


def artifact_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


class PageGuard:
    """Watches one browser context and its pages, and checks the page in front of the test.

    Events (console, CSP violations, uncaught errors, requests) are recorded as they arrive;
    with the sync API they arrive only during Playwright calls. `check()` adds the axe and
    sideways-scroll checks of the current page and fails the test at once if anything is
    recorded; `finish()` checks the final page after the test body, and a failure of the
    test leaves a full-page screenshot named after it (tests/browser/conftest.py).
    """

    def __init__(self, context: BrowserContext, name: str) -> None:
        self.context = context
        self.name = artifact_name(name)
        self._problems: list[Problem] = []
        self._expected: list[re.Pattern[str]] = []
        context.expose_binding(CSP_BINDING, self._on_csp_violation)
        context.add_init_script(CSP_LISTENER)
        context.route("**/*", self._on_request)
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self._add("page-error", str(error.error)))
        self.page = context.new_page()

    # --- what tests call ------------------------------------------------------------

    def expect_console_error(self, pattern: str) -> None:
        """Declare a console error this test causes on purpose (a 422, an offline fetch)."""
        self._expected.append(re.compile(pattern))

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def clear(self) -> None:
        """Forget what was recorded: for tests of the guard, after they assert on it."""
        self._problems.clear()

    def check(self, page: Page | None = None) -> None:
        """Run axe and the sideways-scroll check on the page; fail if any problem is recorded."""
        self.inspect(page)
        if self._problems:
            raise GuardFailure(self.report())

    def finish(self) -> None:
        """The check after the test body: the final page, or only the events if it is closed."""
        if not self.page.is_closed():
            self.check()
        elif self._problems:
            raise GuardFailure(self.report())

    def inspect(self, page: Page | None = None) -> list[Problem]:
        """Record the axe and scroll problems of the page without failing; returns all so far."""
        page = page or self.page
        # A test's last expectation can pass while the stylesheet is still arriving, and an
        # unstyled page measures wider than the phone (a table at 539 px in 390, in CI).
        page.wait_for_load_state("load")
        self._check_axe(page)
        self._check_width(page)
        self._check_tap_targets(page)
        return self.problems()

    def screenshot(self, name: str, page: Page | None = None) -> Path:
        """A full-page PNG under test-artifacts/, for a person to open and look at."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{artifact_name(name)}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)
        return path

    def report(self) -> str:
        lines = [f"the page guard found {len(self._problems)} problem(s):"]
        lines += [f"  {problem}" for problem in self._problems]
        return "\n".join(lines)

    # --- the checks ----------------------------------------------------------------

    def _check_axe(self, page: Page) -> None:
        if not page.evaluate("() => typeof window.axe?.run === 'function'"):
            # add_script_tag is refused by script-src 'self'; evaluation from the test is not.
            page.evaluate(axe_source() + "\n;undefined")
        for violation in page.evaluate(AXE_RUN, list(AXE_IMPACTS)):
            targets = ", ".join(violation["targets"])
            self._add(
                "axe",
                f"{violation['id']} ({violation['impact']}) on {page.url}: "
                f"{violation['help']} at {targets}",
            )

    def _check_width(self, page: Page) -> None:
        width = page.evaluate(PAGE_WIDTH)
        if width["scroll"] > width["client"]:
            self._add(
                "scroll",
                f"{page.url} scrolls sideways: {width['scroll']} px of content "
                f"in {width['client']} px",
            )

    def _check_tap_targets(self, page: Page) -> None:
        if (page.viewport_size or PHONE)["width"] > PHONE["width"]:
            return  # a mouse on a desktop: the 44 px rule is the phone's
        for html, width, height in small_tap_targets(page):
            self._add("target", f"{width}x{height} px on {page.url}: {html}")

    # --- event handlers ------------------------------------------------------------

    def _add(self, kind: str, detail: str) -> None:
        self._problems.append(Problem(kind, detail))

    def _on_csp_violation(self, source: dict, violation: dict) -> None:
        where = f" in {violation['source']}:{violation['line']}" if violation.get("source") else ""
        self._add(
            "csp",
            f"securitypolicyviolation: {violation['directive']} blocked "
            f"{violation['blocked'] or 'inline'}{where} on {source['page'].url}",
        )

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = message.text
        if "Content Security Policy" in text:
            self._add("csp", f"console: {text}")  # never excusable
        elif any(pattern.search(text) for pattern in self._expected):
            return
        elif is_foreign(message.location.get("url", "")):
            return  # the aborted request is recorded as a request problem
        else:
            self._add("console", f"{text} at {message.location.get('url') or message.page}")

    def _on_request(self, route: Route) -> None:
        url = route.request.url
        if not is_foreign(url):
            route.fallback()
            return
        self._add("request", f"{route.request.method} {url} (aborted)")
        with suppress(Error):  # the page may be gone meanwhile; the request is recorded anyway
            route.abort("blockedbyclient")


# What a thumb taps on a phone page (DESIGN.md: 44 px targets), for every role: each link,
# button, field and tappable label, the bars' too. A link inside running text is exempt, as in
# WCAG 2.5.8 (inline, and its parent says more than the link); so is a field that a label
# around it makes bigger (a chip's radio, a check's box).
TAP_TARGET_MIN = 44
TAP_TARGETS = (
    "a[href], button, select, summary, textarea, label.chip, label.check, "
    "input:not([type=hidden]):not([type=radio]):not([type=checkbox]), "
    "input[type=radio]:not(label input), input[type=checkbox]:not(label input)"
)
_SMALL_TARGETS = """([selector, least]) => Array.from(document.querySelectorAll(selector))
  .filter(node => node.getClientRects().length > 0
    && getComputedStyle(node).visibility !== "hidden")
  .filter(node => !(node.matches("a") && getComputedStyle(node).display === "inline"
    && node.parentElement && node.parentElement.textContent.trim().length
      > node.textContent.trim().length))
  .map(node => {
    const box = node.getBoundingClientRect();
    return [node.outerHTML.slice(0, 100), Math.round(box.width), Math.round(box.height)];
  })
  .filter(([, width, height]) => width < least || height < least)"""


def small_tap_targets(page: Page) -> list:
    """The visible tap targets of the page that are less than 44 px wide or tall."""
    return page.evaluate(_SMALL_TARGETS, [TAP_TARGETS, TAP_TARGET_MIN])


# The layout shifts of the page so far (the Layout Instability API): the text of each element a
# shift moved (none reported within half a second: none).
_SHIFTS = """() => new Promise(resolve => {
  new PerformanceObserver((list, observer) => {
    observer.disconnect();
    resolve(list.getEntries().flatMap(entry => entry.sources.map(source =>
      source.node && source.node.nodeType === 1 ? (source.node.textContent || "").trim() : "")));
  }).observe({ type: "layout-shift", buffered: true });
  setTimeout(() => resolve([]), 500);
})"""


def moved_by_layout_shifts(page: Page, *names: str) -> list[str]:
    """Which of these texts (a button's, a link's) a layout shift has moved since the page
    loaded: a control that moves as a script comes to life takes a tap meant for another."""
    page.wait_for_timeout(200)  # the last frame's shifts are reported after it
    moved = page.evaluate(_SHIFTS)
    return [text for text in moved if any(name in text for name in names)]
