"""The board works in place on a laptop (1280x800) and a tablet (1024x768), in both languages:
a move confirmed in the dialog and "Show more" change the page where it stands (no reload, the
scroll kept); a pending request shows on its card; churned factories wait in a folded column;
the filters' labels and choices are not cut off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.clock import now
from crm.models import Factory
from crm.services.growth import promotions
from tests import builders
from tests.browser.guard import DESKTOP
from tests.browser.test_homes import sign_in

TABLET = {"width": 1024, "height": 768}
LOW = "永康市恒达五金制品有限公司"


@pytest.fixture
def busy_board(live_db):
    """Fourteen elementary factories (a column taller than the screen, "Show more" at its
    foot), one of each other column, a pending request and two churned factories."""
    team = builders.team("宁波与永康")
    belt = builders.belt(team, code="yongkang-hardware")
    rep = builders.user("rep", team_=team)
    for number in range(14):
        factory = builders.factory(
            belt, owner=rep, stage="elementary", name=f"永康市第{number:02d}五金厂"
        )
        factory.stage_entered_at = now() - timedelta(days=100 - number)
    low = live_db.scalar(select(Factory).where(Factory.name == "永康市第04五金厂"))
    low.name = LOW
    for stage in ("junior", "senior", "university"):
        builders.factory(belt, owner=rep, stage=stage, name=f"永康市{stage}五金制品有限公司")
    builders.factory(belt, status="prospect", name="Prospect Tools Co.")
    builders.factory(belt, owner=rep, status="paused", name="Paused Castings Ltd.")
    builders.factory(belt, owner=rep, status="churned", name="宁波市已流失模具厂")
    builders.factory(belt, owner=rep, status="churned", name="Gone Plastics Ltd.")
    asking = live_db.scalar(select(Factory).where(Factory.name == "永康市junior五金制品有限公司"))
    promotions.request_change(rep, asking, "paused", None, "春节停工", now())
    managers = {
        locale: builders.user("manager", leads=[team], locale=locale).email
        for locale in ("en", "zh_Hans")
    }
    live_db.commit()
    return {"managers": managers, "low_id": low.id}


def card(page, name: str):
    return page.locator(".board-card", has=page.get_by_role("link", name=name, exact=True))


def stays(page) -> None:
    """Mark the page: a reload or a navigation would drop the mark."""
    page.evaluate("window.__stays = true")


def scroll_y(page) -> float:
    return page.evaluate("window.scrollY")


@pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["laptop", "tablet"])
def test_a_move_in_the_dialog_changes_the_board_in_place_and_keeps_the_scroll(
    page, page_guard, live_db, busy_board, viewport
):
    sign_in(page, busy_board["managers"]["en"])
    page.goto("/pipeline/board")
    low = card(page, LOW)
    low.evaluate("card => card.scrollIntoView({block: 'start'})")
    before = scroll_y(page)
    assert before > 100  # the card is far down the page
    stays(page)
    low.get_by_role("link", name=f"Move {LOW}").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("link", name="Paused").click()
    expect(dialog.get_by_text("its open follow-ups are cancelled")).to_be_visible()
    dialog.get_by_role("button", name="Move").click()
    expect(dialog).to_be_hidden()
    status = page.locator("#board-status")
    expect(status).to_have_text(f"{LOW} is Paused now.")
    paused = page.locator('.board-cards[data-column="paused"]')
    expect(paused.get_by_role("link", name=LOW, exact=True)).to_be_visible()
    elementary = page.locator('.board-cards[data-column="elementary"]')
    expect(elementary.get_by_role("link", name=LOW, exact=True)).to_have_count(0)
    expect(page.locator("#board-count-elementary")).to_have_text("13")
    expect(page.locator("#board-count-paused")).to_have_text("2")
    assert page.evaluate("window.__stays") is True
    assert abs(scroll_y(page) - before) < 2
    page_guard.check(page)
    page_guard.screenshot(f"board-moved-in-place-{viewport['width']}", page)
    # "Show more" still brings the rest, none twice: it counts the cards the column holds now.
    elementary.get_by_role("link", name="Show 4 more").click()
    expect(elementary.locator(".board-card")).to_have_count(13)
    names = elementary.locator(".board-card-name").all_inner_texts()
    assert len(set(names)) == 13 and LOW not in names
    live_db.rollback()
    assert live_db.get(Factory, busy_board["low_id"]).status == "paused"


def test_show_more_adds_the_cards_in_place(page, page_guard, busy_board):
    page.set_viewport_size(DESKTOP)
    sign_in(page, busy_board["managers"]["en"])
    page.goto("/pipeline/board")
    elementary = page.locator('.board-cards[data-column="elementary"]')
    expect(elementary.locator(".board-card")).to_have_count(10)
    more = elementary.get_by_role("link", name="Show 4 more")
    more.scroll_into_view_if_needed()
    before = scroll_y(page)
    stays(page)
    more.click()
    expect(elementary.locator(".board-card")).to_have_count(14)
    expect(more).to_have_count(0)
    assert page.evaluate("window.__stays") is True
    assert abs(scroll_y(page) - before) < 2
    page_guard.check(page)


FITS = """() => {
  const out = [];
  const canvas = document.createElement("canvas").getContext("2d");
  for (const label of document.querySelectorAll(".board-filters-grid .label")) {
    if (label.scrollWidth > label.clientWidth + 1) out.push("label " + label.textContent);
  }
  for (const select of document.querySelectorAll(".board-filters-grid select")) {
    const style = getComputedStyle(select);
    canvas.font = style.font;
    const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
    const room = select.clientWidth - padding;
    for (const option of select.options) {
      if (canvas.measureText(option.text).width > room) out.push(select.id + ": " + option.text);
    }
  }
  return out;
}"""


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
@pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["laptop", "tablet"])
def test_the_board_fits_with_its_request_churned_column_and_filters(
    page, page_guard, busy_board, viewport, locale
):
    sign_in(page, busy_board["managers"][locale])
    page.goto("/pipeline/board")
    asking = card(page, "永康市junior五金制品有限公司")
    expect(asking.locator(".board-card-pending")).to_be_visible()
    churned = page.locator("details.board-column-churned")
    expect(churned).not_to_have_attribute("open", "")
    expect(churned.locator(".board-card")).to_have_count(2)
    expect(churned.locator(".board-card").first).to_be_hidden()
    expect(page.locator("#board-count-churned")).to_have_text("2")
    fold = page.locator(".board-fold-summary")  # the filters, folded on a tablet
    if fold.is_visible():
        fold.click()
    assert page.evaluate(FITS) == []
    page_guard.check(page)
    page_guard.screenshot(f"board-{locale}-{viewport['width']}", page)
    churned.locator("summary").click()
    expect(churned.locator(".board-card").first).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"board-churned-open-{locale}-{viewport['width']}", page)
