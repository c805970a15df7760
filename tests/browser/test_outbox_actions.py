"""Field actions made with no signal (DESIGN.md "Exactly once"): Done, Move, Cancel, a task's
tick, a new contact and a factory's hand-in wait on the phone, show at once as waiting, and are
applied once, in order, when the network returns, even when the first answer is lost; a refusal
stays by its row and in the sync centre with its reason until it is dropped."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from crm.clock import now
from crm.models import AuditEntry, ClientAction, Contact, FollowUp, Task, Visit
from tests import builders
from tests.browser.test_homes import sign_in as sign_in_form
from tests.browser.test_visit_log import service_worker_ready, wait_for

OFFLINE_ERRORS = r"ERR_INTERNET_DISCONNECTED|Failed to fetch|ERR_CONNECTION_RESET|status of 4\d\d"


@pytest.fixture
def field_world(live_db):
    team = builders.team()
    belt, rep = builders.belt(team), builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, name="Yongkang Hengda Hardware")
    task = builders.task(factory, "Shop opened", required=False)
    soon = now() + timedelta(days=2)
    rows = [
        builders.follow_up(factory, rep, soon + timedelta(hours=n), reason=f"Row {n}")
        for n in range(3)
    ]
    owner = builders.user("factory", factory=factory)
    live_db.commit()
    return {
        "rep": rep.email,
        "owner": owner.email,
        "factory_id": factory.id,
        "task": task.id,
        "follow_ups": [row.id for row in rows],
        "local_day": (now() + timedelta(days=5)).date(),
    }


def sign_in(page, email: str) -> None:
    """Sign in, then wait for the landing page's modules: a tap before app.js has run is a
    plain form post, which the tests of the outbox are not about."""
    sign_in_form(page, email)
    page.wait_for_selector("html[data-modules=ready]", state="attached")


def fresh(live_db):
    live_db.rollback()  # end the test's read transaction: see what the server committed
    return live_db


def follow_up(live_db, follow_up_id: int) -> FollowUp:
    return fresh(live_db).get(FollowUp, follow_up_id)


def count(live_db, model) -> int:
    return fresh(live_db).scalar(select(func.count()).select_from(model))


def badge_count(page) -> str:
    return page.locator("#outbox-badge").get_attribute("data-count") or "0"


def offline_on(page, page_guard, path: str) -> None:
    """Open a page online (the service worker keeps it), then lose the signal."""
    page_guard.expect_console_error(OFFLINE_ERRORS)
    expect(page).to_have_url(re.compile(r"/today$"))
    service_worker_ready(page)  # on the page that signing in led to
    page.goto(path)  # the service worker now keeps it
    service_worker_ready(page)
    page_guard.context.set_offline(True)


def lose_the_first_answer(page_guard, pattern: str) -> list[str]:
    """The first request to `pattern` reaches the server, which commits; its answer is lost on
    the way back (the case exactly-once exists for). Returns the list of requests lost."""
    lost: list[str] = []

    def route(request_route):
        if lost:
            request_route.continue_()
            return
        request_route.fetch()
        lost.append(request_route.request.url)
        request_route.abort("connectionreset")

    page_guard.context.route(pattern, route)
    return lost


def row(page, follow_up_id: int):
    return page.locator(f"#follow-up-{follow_up_id}")


def test_done_move_and_cancel_made_offline_apply_once_in_order(
    page, page_guard, live_db, field_world
):
    sign_in(page, field_world["rep"])
    offline_on(page, page_guard, "/today")
    first, second, third = field_world["follow_ups"]
    day = field_world["local_day"]

    # The second row is moved and then done: two actions on one record, applied in that order.
    target = row(page, second)
    target.locator("summary").click()
    target.get_by_label("New date").fill(day.isoformat())
    target.get_by_role("button", name="Move", exact=True).click()
    expect(target.get_by_role("status")).to_have_text("Saved on this phone: waiting to send")
    row(page, first).get_by_role("button", name="Done").click()
    target.get_by_role("button", name="Done").click()
    page.once("dialog", lambda dialog: dialog.accept())
    third_row = row(page, third)
    third_row.locator("summary").click()
    # The bottom bar covers the last row's panel at the bottom of the screen: the keyboard taps.
    third_row.get_by_role("button", name="Cancel follow-up").press("Enter")
    expect(row(page, first)).to_have_class(re.compile("outbox-waiting"))
    expect(row(page, first)).to_have_class(re.compile("outbox-closed"))
    wait_for(lambda: badge_count(page) == "4", page)
    expect(page.locator("#outbox-badge [data-outbox-number]")).to_have_text("4")
    page_guard.check(page)
    page_guard.screenshot("outbox-today-waiting-390", page)
    assert follow_up(live_db, first).status == "open"

    page_guard.context.set_offline(False)
    wait_for(lambda: count(live_db, ClientAction) == 4, page)
    wait_for(lambda: badge_count(page) == "0", page)
    expect(row(page, first).get_by_role("status")).to_have_text("Saved")
    assert follow_up(live_db, first).status == "done"
    moved = follow_up(live_db, second)
    assert moved.status == "done" and moved.due_at.date() >= day - timedelta(days=1)
    assert follow_up(live_db, third).status == "cancelled"
    actions = fresh(live_db).scalars(select(ClientAction).order_by(ClientAction.id)).all()
    assert [a.kind for a in actions] == [
        "follow_up_move",
        "follow_up_done",
        "follow_up_done",
        "follow_up_cancel",
    ]


def test_a_done_whose_first_answer_is_lost_is_applied_once(page, page_guard, live_db, field_world):
    page_guard.expect_console_error(OFFLINE_ERRORS)
    sign_in(page, field_world["rep"])
    first = field_world["follow_ups"][0]
    lost = lose_the_first_answer(page_guard, f"**/follow-ups/{first}/complete")
    audit_before = count(live_db, AuditEntry)
    row(page, first).get_by_role("button", name="Done").click()
    wait_for(lambda: lost and follow_up(live_db, first).status == "done", page)
    expect(row(page, first)).to_have_class(re.compile("outbox-waiting"))
    page.reload()  # any page load sends what waits: the same key again
    wait_for(lambda: badge_count(page) == "0", page)
    assert follow_up(live_db, first).status == "done"
    assert count(live_db, ClientAction) == 1
    assert count(live_db, AuditEntry) == audit_before + 1


def move(page, target, day) -> None:
    target.locator("summary").click()
    target.get_by_label("New date").fill(day.isoformat())
    target.get_by_role("button", name="Move", exact=True).click()


def cancel(page, target, _day) -> None:
    page.once("dialog", lambda dialog: dialog.accept())
    target.locator("summary").click()
    target.get_by_role("button", name="Cancel follow-up").press("Enter")


@pytest.mark.parametrize(
    ("act", "path", "kind", "applied"),
    [
        (
            move,
            "reschedule",
            "follow_up_move",
            lambda f, day: f.due_at.date() >= day - timedelta(1),
        ),
        (cancel, "cancel", "follow_up_cancel", lambda f, _day: f.status == "cancelled"),
    ],
    ids=["move", "cancel"],
)
def test_a_move_or_cancel_whose_first_answer_is_lost_is_applied_once(
    page, page_guard, live_db, field_world, act, path, kind, applied
):
    page_guard.expect_console_error(OFFLINE_ERRORS)
    sign_in(page, field_world["rep"])
    first, day = field_world["follow_ups"][0], field_world["local_day"]
    lost = lose_the_first_answer(page_guard, f"**/follow-ups/{first}/{path}")
    audit_before = count(live_db, AuditEntry)
    act(page, row(page, first), day)
    wait_for(lambda: lost and applied(follow_up(live_db, first), day), page)
    page.reload()  # any page load sends what waits: the same key again
    wait_for(lambda: badge_count(page) == "0", page)
    assert applied(follow_up(live_db, first), day)
    assert [a.kind for a in fresh(live_db).scalars(select(ClientAction))] == [kind]
    assert count(live_db, AuditEntry) == audit_before + 1


def test_a_task_tick_whose_first_answer_is_lost_is_applied_once(
    page, page_guard, live_db, field_world
):
    page_guard.expect_console_error(OFFLINE_ERRORS)
    sign_in(page, field_world["rep"])
    page.goto(f"/factories/{field_world['factory_id']}")
    task = field_world["task"]
    lost = lose_the_first_answer(page_guard, f"**/tasks/{task}/complete")
    page.locator(f"#task-{task}").get_by_role("button", name="Mark done").click()
    wait_for(lambda: lost and fresh(live_db).get(Task, task).status == "done", page)
    page.reload()
    wait_for(lambda: badge_count(page) == "0", page)
    assert fresh(live_db).get(Task, task).status == "done"
    assert [a.kind for a in fresh(live_db).scalars(select(ClientAction))] == ["task_tick"]


def test_a_task_tick_and_a_new_contact_made_offline_apply_once(
    page, page_guard, live_db, field_world
):
    sign_in(page, field_world["rep"])
    offline_on(page, page_guard, f"/factories/{field_world['factory_id']}")
    task_row = page.locator(f"#task-{field_world['task']}")
    task_row.get_by_role("button", name="Mark done").click()
    expect(task_row.locator(".outbox-note")).to_have_text("Saved on this phone: waiting to send")
    page.get_by_text("Add a contact").click()
    page.get_by_label("Name").fill("王经理")
    page.get_by_label("Phone").fill("13800001111")
    page.get_by_role("button", name="Save contact").click()
    wait_for(lambda: badge_count(page) == "2", page)
    page_guard.check(page)

    page_guard.context.set_offline(False)
    wait_for(lambda: badge_count(page) == "0", page)
    wait_for(lambda: count(live_db, ClientAction) == 2, page)
    assert fresh(live_db).get(Task, field_world["task"]).status == "done"
    assert [c.name for c in fresh(live_db).scalars(select(Contact))] == ["王经理"]


def test_a_contact_whose_first_answer_is_lost_is_added_once(page, page_guard, live_db, field_world):
    page_guard.expect_console_error(OFFLINE_ERRORS)
    sign_in(page, field_world["rep"])
    page.goto(f"/factories/{field_world['factory_id']}")
    lost = lose_the_first_answer(page_guard, "**/contacts")
    page.get_by_text("Add a contact").click()
    page.get_by_label("Name").fill("李会计")
    page.get_by_role("button", name="Save contact").click()
    wait_for(lambda: lost and count(live_db, Contact) == 1, page)
    page.reload()
    wait_for(lambda: badge_count(page) == "0", page)
    assert count(live_db, Contact) == 1 and count(live_db, ClientAction) == 1


def test_a_refused_move_stays_with_its_reason_until_it_is_dropped(
    page, page_guard, live_db, field_world
):
    sign_in(page, field_world["rep"])
    offline_on(page, page_guard, "/today")
    first = field_world["follow_ups"][0]
    target = row(page, first)
    target.locator("summary").click()
    target.get_by_label("New date").fill("2020-01-01")
    target.get_by_role("button", name="Move", exact=True).click()
    note = target.get_by_role("status")
    # Kept on the phone before the signal returns: the return is what sends it.
    expect(note).to_contain_text("Saved on this phone: waiting to send")
    page_guard.context.set_offline(False)
    expect(note).to_contain_text("Not saved: Pick today or a later date")
    page_guard.check(page)
    page_guard.screenshot("outbox-row-refused-390", page)

    page.goto("/today")  # it stays, on the row and in the count
    expect(row(page, first).get_by_role("status")).to_contain_text("Not saved")
    wait_for(lambda: badge_count(page) == "1", page)
    page.locator("#outbox-badge").click()
    expect(page).to_have_url(re.compile("/sync$"))
    refused = page.locator('[data-sync-group="refused"]')
    expect(refused).to_contain_text("Pick today or a later date")
    expect(refused).to_contain_text("Move")
    page_guard.check(page)
    page_guard.screenshot("sync-centre-refused-390", page)
    refused.get_by_role("button", name="Drop").click()
    expect(refused).to_be_hidden()
    wait_for(lambda: badge_count(page) == "0", page)
    assert follow_up(live_db, first).due_at.year != 2020
    assert count(live_db, ClientAction) == 0


def test_the_sync_centre_lists_what_waits_and_what_was_sent(page, page_guard, live_db, field_world):
    sign_in(page, field_world["rep"])
    offline_on(page, page_guard, "/today")
    first, second, _ = field_world["follow_ups"]
    row(page, first).get_by_role("button", name="Done").click()
    # The row says "saved on this phone" once the action is kept; leaving sooner may lose it.
    expect(row(page, first).locator(".outbox-note")).to_have_text(
        "Saved on this phone: waiting to send"
    )
    page.goto("/sync")  # from the cache
    waiting = page.locator('[data-sync-group="waiting"]')
    expect(waiting).to_contain_text("Done · Yongkang Hengda Hardware")
    expect(page.locator("#sync-summary")).to_have_text("Waiting to send: 1")
    page_guard.check(page)
    page_guard.screenshot("sync-centre-waiting-390", page)
    page_guard.context.set_offline(False)
    sent = page.locator('[data-sync-group="sent"]')
    expect(sent).to_contain_text("Done · Yongkang Hengda Hardware")
    expect(sent).to_contain_text(re.compile(r"Sent \d\d:\d\d"))
    expect(page.locator("#sync-summary")).to_have_text("Waiting to send: 0")
    assert follow_up(live_db, first).status == "done"
    assert follow_up(live_db, second).status == "open"


def test_a_hand_in_made_offline_reaches_the_rep_once(page, page_guard, live_db, field_world):
    page_guard.expect_console_error(OFFLINE_ERRORS)
    sign_in(page, field_world["owner"])
    task_id = field_world["task"]
    lost = lose_the_first_answer(page_guard, f"**/portal/tasks/{task_id}/evidence")
    task_row = page.locator(f"#task-{task_id}")
    task_row.get_by_text("Hand in evidence").click()
    task_row.get_by_label("Link").fill("https://v.example.com/hengda")
    page.wait_for_load_state("networkidle")  # the portal's modules have come
    page_guard.context.set_offline(True)
    task_row.get_by_role("button", name="Hand in", exact=True).click()
    expect(task_row.locator(".outbox-note")).to_have_text("Saved on this phone: waiting to send")
    assert fresh(live_db).get(Task, task_id).status == "open"
    page_guard.context.set_offline(False)
    wait_for(lambda: lost and fresh(live_db).get(Task, task_id).status == "submitted", page)
    page.reload()
    wait_for(lambda: badge_count(page) == "0", page)
    assert fresh(live_db).get(Task, task_id).evidence_link == "https://v.example.com/hengda"
    assert count(live_db, ClientAction) == 1


def test_a_module_lost_while_the_page_loads_leaves_a_working_form(
    page, page_guard, live_db, field_world
):
    """The signal drops while the portal loads, before the service worker keeps its modules: the
    page stays as drawn, with no uncaught error, and the hand-in still goes once it is back."""
    page_guard.expect_console_error(OFFLINE_ERRORS)
    page_guard.context.route(
        "**/js/portal-photos.js", lambda route: route.abort("internetdisconnected")
    )
    warnings: list[str] = []
    page.on("console", lambda message: message.type == "warning" and warnings.append(message.text))
    sign_in(page, field_world["owner"])
    task_id = field_world["task"]
    task_row = page.locator(f"#task-{task_id}")
    task_row.get_by_text("Hand in evidence").click()
    task_row.get_by_label("Link").fill("https://v.example.com/hengda")
    task_row.get_by_role("button", name="Hand in", exact=True).click()
    expect(page.locator(f"#task-{task_id}")).to_contain_text("Handed in. Your rep will check it.")
    assert fresh(live_db).get(Task, task_id).status == "submitted"
    assert any("portal-photos.js" in text for text in warnings), warnings
    page_guard.check(page)


@pytest.fixture
def chinese_rep(live_db, field_world):
    from crm.models import User

    rep = fresh(live_db).scalar(select(User).where(User.email == field_world["rep"]))
    rep.locale = "zh_Hans"
    live_db.commit()
    return field_world


def test_the_sync_centre_in_chinese(page, page_guard, live_db, chinese_rep):
    sign_in(page, chinese_rep["rep"])
    offline_on(page, page_guard, "/today")
    first, second, _ = chinese_rep["follow_ups"]
    target = row(page, second)
    target.locator("summary").click()
    target.get_by_label(re.compile("新日期|New date")).fill("2020-01-01")
    target.locator(".fu-move button").first.click()  # Move, the panel's first button
    row(page, first).locator(".fu-actions > button").first.click()
    page_guard.screenshot("outbox-today-waiting-zh-390", page)
    page_guard.context.set_offline(False)
    expect(target.locator(".outbox-note")).to_be_visible()
    page.wait_for_timeout(500)
    page_guard.screenshot("outbox-row-refused-zh-390", page)
    page.goto("/sync")
    expect(page.locator('[data-sync-group="refused"]')).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot("sync-centre-zh-390", page)


def test_a_contact_refused_when_the_signal_returns_comes_back_to_its_form(
    page, page_guard, live_db, chinese_rep
):
    sign_in(page, chinese_rep["rep"])
    offline_on(page, page_guard, f"/factories/{chinese_rep['factory_id']}")
    fold = page.locator("#add-contact")
    fold.locator("summary").click()
    fold.locator("#contact-name").fill("王经理")
    fold.locator("#contact-role").fill("老板")
    fold.locator("#contact-phone").fill("1234")
    fold.locator("button[type=submit]").click()
    wait_for(lambda: badge_count(page) == "1", page)
    expect(fold.locator("#contact-name")).to_have_value("")  # emptied for the next one

    page_guard.context.set_offline(False)
    phone = fold.locator("#contact-phone")
    expect(phone).to_have_value("1234")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_be_focused()
    expect(fold.locator("#contact-name")).to_have_value("王经理")
    expect(fold.locator("#contact-role")).to_have_value("老板")
    expect(fold.locator(".field-invalid .error")).to_have_text(re.compile("4"))
    expect(fold.get_by_role("status")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot("outbox-contact-refused-zh-390", page)

    phone.fill("13800001111")
    fold.locator("button[type=submit]").click()
    wait_for(lambda: count(live_db, Contact) == 1, page)
    # Sent at once, the form leads to the page its answer names, with the server's message:
    # the page is checked there, not while it is leaving.
    expect(page.locator(".flash-success")).to_contain_text("王经理")
    wait_for(lambda: badge_count(page) == "0", page)
    contact = fresh(live_db).scalars(select(Contact)).one()
    assert (contact.name, contact.role, contact.phone_digits) == ("王经理", "老板", "13800001111")
    assert count(live_db, ClientAction) == 1


def test_the_visit_form_says_saved_once_its_queued_visit_is_sent(
    page, page_guard, live_db, field_world
):
    sign_in(page, field_world["rep"])
    offline_on(page, page_guard, f"/visit?factory={field_world['factory_id']}")
    page.get_by_label("Summary for the factory").fill("No signal in the workshop")
    page.get_by_role("button", name="Save visit").click()
    status = page.locator("#visit-outbox")
    expect(status).to_have_text(re.compile("Saved on this phone. Waiting to send: 1"))
    page_guard.context.set_offline(False)
    expect(status).to_have_text("Saved: the visits kept on this phone were sent.")
    wait_for(lambda: badge_count(page) == "0", page)
    expect(page.locator("#outbox-count")).to_be_hidden()
    assert count(live_db, Visit) == 1
