"""A rep on a phone logs a visit: check-in, a photo, the next follow-up; offline and online."""

from __future__ import annotations

import re
import time
from datetime import timedelta, timezone
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from sqlalchemy import func, select

from crm.clock import now
from crm.models import Factory, FollowUp, Visit
from crm.services.field import photos
from crm.services.install import settings
from tests import builders, s3server
from tests.browser.guard import small_tap_targets
from tests.browser.test_homes import sign_in

FACTORY = "永康市恒达五金制品有限公司"
AT_THE_GATE = {"latitude": 29.87005, "longitude": 121.54004, "accuracy": 12}


@pytest.fixture
def rep_world(live_db):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(
        builders.belt(team), owner=rep, name=FACTORY, lat=29.87, lng=121.54, stage="elementary"
    )
    builders.task(factory, "Shop opened")
    builders.follow_up(factory, rep, now() - timedelta(hours=3), reason="Check the shop photos")
    live_db.commit()
    return {"rep": rep.email, "factory_id": factory.id}


@pytest.fixture
def taken():
    """When the camera took the photo: two minutes before the test (not before the test run,
    whose later tests would see a photo taken long before their check-in)."""
    return now().replace(microsecond=0) - timedelta(minutes=2)


@pytest.fixture
def photo(tmp_path, taken):
    """A camera's photo, with its capture time in its EXIF, on a clock in Shanghai that writes
    its offset."""
    exif = Image.Exif()
    shanghai = taken.astimezone(timezone(timedelta(hours=8)))
    exif[photos.EXIF_IFD] = {
        photos.DATE_TIME_ORIGINAL: shanghai.strftime("%Y:%m:%d %H:%M:%S"),
        photos.OFFSET_TIME_ORIGINAL: "+08:00",
    }
    path = tmp_path / "IMG_2041.jpg"
    path.write_bytes(builders.image_bytes(3000, 2000, exif=exif))
    return path


def at_the_factory(page_guard) -> None:
    page_guard.context.grant_permissions(["geolocation"])
    page_guard.context.set_geolocation(AT_THE_GATE)


def visits(live_db) -> list[Visit]:
    live_db.rollback()  # end the test's read transaction: see what the server committed
    return list(live_db.scalars(select(Visit)))


def wait_for(condition, page, seconds: float = 10) -> None:
    """Poll from Python (page.wait_for_function needs eval, which the CSP forbids)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(100)


def outage(route) -> None:
    """The server answers 503: the outbox keeps the item and tries again later."""
    route.fulfill(status=503, json={"error": {"code": "unavailable", "message": "", "fields": {}}})


def service_worker_ready(page) -> None:
    """The worker has taken the page. Installing it fetches every kept file and page first; on
    a 2-core machine running two test workers, a worker that activated while the page was
    still loading was seen never to claim it (CI, the prospect's offline test, 30 s). A page
    loaded again is taken by the active worker, as the next page a rep opens would be."""

    def controlled() -> bool:
        try:
            return page.evaluate("() => !!navigator.serviceWorker.controller")
        except PlaywrightError:  # the page was navigating: ask again once it has loaded
            return False

    try:
        wait_for(controlled, page, seconds=10)
    except AssertionError:
        page.reload()
        wait_for(controlled, page, seconds=20)


def test_a_rep_logs_a_visit_with_a_photo_in_three_taps(
    page, page_guard, live_db, rep_world, photo, taken
):
    at_the_factory(page_guard)
    sign_in(page, rep_world["rep"])
    expect(page).to_have_url(re.compile("/today$"))
    page.get_by_role("link", name=FACTORY).click()  # from today's overdue follow-up
    page_guard.check(page)
    page.get_by_role("link", name="Log visit").click()  # tap 1
    expect(page.get_by_text("Location taken: within 12 m.")).to_be_visible()
    expect(page.get_by_label("Follow-up", exact=True)).to_be_checked()
    expect(page.get_by_text(re.compile("Answers the follow-up due"))).to_be_visible()
    assert page.get_by_label("Photos", exact=True).get_attribute("capture") == "environment"
    page.get_by_label("Photos", exact=True).set_input_files(photo)  # tap 2: the camera
    expect(page.locator("img.visit-thumb")).to_have_count(1)
    page.get_by_label("Summary for the factory").fill("店铺照片已重拍，20个产品已上架")
    page.get_by_label("In 3 days").check()
    page.get_by_label("Shop opened").check()
    page_guard.check(page)
    page_guard.screenshot("visit-form-390", page)
    page.get_by_role("button", name="Save visit").click()  # tap 3
    expect(page).to_have_url(re.compile(rf"/factories/{rep_world['factory_id']}"))
    expect(page.locator("#visits").get_by_text("店铺照片已重拍，20个产品已上架")).to_be_visible()
    page_guard.check(page)

    (visit,) = visits(live_db)
    assert visit.off_site is False and visit.distance_m < 20
    assert len(visit.photos) == 1 and max(visit.photos[0].width, visit.photos[0].height) == 1600
    # The phone read the capture time before shrinking the photo (which drops its EXIF).
    assert visit.photos[0].taken_at == taken and visit.photos[0].time_flag is None
    assert not visit.photos_doubtful
    assert [task.title_en for task in visit.tasks] == ["Shop opened"]
    follow_ups = live_db.scalars(select(FollowUp).order_by(FollowUp.id)).all()
    assert follow_ups[0].status == "done" and follow_ups[0].completed_by_visit_id == visit.id
    assert follow_ups[1].status == "open" and follow_ups[1].origin == "visit"

    page.goto("/today")
    upcoming = page.locator("section", has=page.get_by_role("heading", name="Next days"))
    expect(upcoming.get_by_role("link", name=FACTORY)).to_be_visible()
    expect(page.get_by_role("heading", name="Overdue")).to_have_count(0)
    page_guard.check(page)


def test_a_visit_saved_offline_sends_itself_once_when_the_network_returns(
    page, page_guard, live_db, rep_world
):
    page_guard.expect_console_error(r"ERR_INTERNET_DISCONNECTED|Failed to fetch")
    at_the_factory(page_guard)
    sign_in(page, rep_world["rep"])
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    service_worker_ready(page)
    page.reload()  # the service worker has now kept the shell
    page.get_by_label("Summary for the factory").fill("No signal in the workshop")
    page_guard.context.set_offline(True)
    page.get_by_role("button", name="Save visit").click()
    expect(page.get_by_text("Saved on this phone. Waiting to send: 1.")).to_be_visible()
    assert visits(live_db) == []

    page.goto("/today")  # the app shell opens offline from the cache
    expect(page.get_by_text("Saved on this phone, waiting to send: 1")).to_be_visible()
    page_guard.screenshot("outbox-offline-390", page)

    page_guard.context.set_offline(False)
    wait_for(lambda: len(visits(live_db)) == 1, page)
    expect(page.locator("#outbox-count")).to_be_hidden()
    page.wait_for_timeout(500)
    (visit,) = visits(live_db)
    assert visit.summary == "No signal in the workshop"


def test_the_visit_form_first_opened_offline_runs_from_the_cached_modules(
    page, page_guard, live_db, rep_world, photo, taken
):
    # The worker keeps every module when it installs: the form's own (imported by app.js only
    # where the form is) work offline although this phone never opened the form online.
    page_guard.expect_console_error(r"ERR_INTERNET_DISCONNECTED|Failed to fetch")
    at_the_factory(page_guard)
    sign_in(page, rep_world["rep"])
    expect(page).to_have_url(re.compile("/today$"))
    service_worker_ready(page)
    page_guard.context.set_offline(True)
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    expect(page.get_by_text("Location taken: within 12 m.")).to_be_visible()
    expect(page.get_by_role("button", name="Record a voice note")).to_be_visible()
    page.get_by_label("Photos", exact=True).set_input_files(photo)
    expect(page.locator("img.visit-thumb")).to_have_count(1)
    page.get_by_label("Training").check()  # the one shell is drawn for no factory: no purpose
    page.get_by_label("Summary for the factory").fill("Opened in the workshop, no signal")
    page.get_by_role("button", name="Save visit").click()
    expect(page.get_by_text("Saved on this phone. Waiting to send: 1.")).to_be_visible()
    expect(page.locator("img.visit-thumb")).to_have_count(0)  # a fresh form for the next
    page_guard.check(page)
    assert visits(live_db) == []

    page_guard.context.set_offline(False)
    wait_for(lambda: len(visits(live_db)) == 1, page)
    expect(page.locator("#outbox-count")).to_be_hidden()
    (visit,) = visits(live_db)
    assert visit.summary == "Opened in the workshop, no signal" and len(visit.photos) == 1
    # The capture time read offline (exifr among the kept modules) travelled with the visit.
    assert visit.photos[0].taken_at == taken


def test_a_save_tapped_before_the_form_script_arrives_goes_through_the_outbox(
    page, page_guard, live_db, rep_world
):
    # app.js imports the form's module while the page loads; a quick tap must not post the page
    # (that needs a signal) but wait for the module, which sends through the outbox.
    page_guard.expect_console_error(r"ERR_FAILED|error occurred when fetching the script")
    at_the_factory(page_guard)
    # No service worker here: it would answer from its cache, which no route sees.
    page_guard.context.route("**/sw.js", lambda route: route.abort())
    held = []
    page_guard.context.route("**/js/visit-form.js", lambda route: held.append(route))
    sign_in(page, rep_world["rep"])
    expect(page).to_have_url(re.compile("/today$"))
    posted = []
    page.on("request", lambda request: request.method == "POST" and posted.append(request.url))
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    page.get_by_label("Summary for the factory").fill("Tapped at once")
    page.get_by_role("button", name="Save visit").click()
    page.wait_for_timeout(300)
    # Held, so not yet arrived: nothing was posted. (Chromium may ask for a stalled module
    # twice, so every held request is let through.)
    assert held and visits(live_db) == []
    for route in held:
        route.continue_()
    expect(page).to_have_url(re.compile(rf"/factories/{rep_world['factory_id']}"))
    (visit,) = visits(live_db)
    assert visit.summary == "Tapped at once"
    assert [urlsplit(url).path for url in posted] == ["/api/v1/visits"]  # not the page's post
    page_guard.check(page)


def test_a_photo_picked_before_the_form_script_arrives_is_kept(
    page, page_guard, live_db, rep_world, photo
):
    page_guard.expect_console_error(r"ERR_FAILED|error occurred when fetching the script")
    at_the_factory(page_guard)
    page_guard.context.route("**/sw.js", lambda route: route.abort())  # as above
    held = []
    page_guard.context.route("**/js/visit-form.js", lambda route: held.append(route))
    sign_in(page, rep_world["rep"])
    expect(page).to_have_url(re.compile("/today$"))
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    page.get_by_label("Photos", exact=True).set_input_files(photo)
    page.wait_for_timeout(300)
    # Held while the photo was picked (a loaded clean clone once saw the module asked for twice).
    assert held and {route.request.url for route in held} == {held[0].request.url}
    for route in held:
        route.continue_()
    expect(page.locator("img.visit-thumb")).to_have_count(1)
    page.get_by_role("button", name="Save visit").click()
    expect(page).to_have_url(re.compile(rf"/factories/{rep_world['factory_id']}"))
    (visit,) = visits(live_db)
    assert len(visit.photos) == 1
    page_guard.check(page)


def test_a_lost_answer_is_sent_again_and_still_makes_one_visit(
    page, page_guard, live_db, rep_world
):
    page_guard.expect_console_error(r"ERR_CONNECTION_RESET|Failed to fetch")
    at_the_factory(page_guard)
    sign_in(page, rep_world["rep"])
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    lost = []

    def lose_the_first_answer(route):
        if lost:
            route.fallback()
            return
        route.fetch()  # the server commits the visit...
        lost.append(route.request.url)
        route.abort("connectionreset")  # ...and the phone never hears back

    page_guard.context.route("**/api/v1/visits", lose_the_first_answer)
    page.get_by_label("Summary for the factory").fill("Answer lost on the way back")
    page.get_by_role("button", name="Save visit").click()
    expect(page.get_by_text("Saved on this phone. Waiting to send: 1.")).to_be_visible()
    assert len(visits(live_db)) == 1

    page.reload()  # a page load sends what waits: the server answers with the same visit
    expect(page.locator("#outbox-count")).to_be_hidden()
    wait_for(lambda: page.evaluate("() => document.getElementById('outbox-count').hidden"), page)
    assert len(visits(live_db)) == 1
    assert live_db.scalar(select(func.count()).select_from(Visit)) == 1


def test_the_same_key_twice_over_http_is_one_visit(page, page_guard, live_db, rep_world):
    at_the_factory(page_guard)
    sign_in(page, rep_world["rep"])
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    token = page.evaluate("() => fetch('/api/v1/session').then(r => r.json())")["csrf_token"]
    form = {
        "factory_id": str(rep_world["factory_id"]),
        "client_key": "double-tap-0001",
        "purpose": "training",
    }
    headers = {"X-CSRFToken": token}
    first = page.request.post("/api/v1/visits", multipart=form, headers=headers)
    second = page.request.post("/api/v1/visits", multipart=form, headers=headers)
    assert (first.status, second.status) == (201, 200)
    assert first.json()["visit"]["id"] == second.json()["visit"]["id"]
    assert len(visits(live_db)) == 1


def test_a_waiting_visit_is_sent_only_under_the_user_who_made_it(
    page, page_guard, live_db, rep_world
):
    page_guard.expect_console_error(r"status of 503")
    colleague = builders.user("rep", team_=live_db.get(Factory, rep_world["factory_id"]).belt.team)
    live_db.commit()
    at_the_factory(page_guard)
    sign_in(page, rep_world["rep"])
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    page_guard.context.route("**/api/v1/visits", outage)
    page.get_by_label("Summary for the factory").fill("Sent during an outage")
    page.get_by_role("button", name="Save visit").click()
    expect(page.get_by_text("Saved on this phone. Waiting to send: 1.")).to_be_visible()
    page_guard.context.unroute("**/api/v1/visits", outage)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, colleague.email)
    expect(page.locator("#outbox-count")).to_be_hidden()
    page.wait_for_timeout(1000)
    assert visits(live_db) == []  # another user's session never sends it

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, rep_world["rep"])
    wait_for(lambda: len(visits(live_db)) == 1, page)
    assert visits(live_db)[0].rep.email == rep_world["rep"]


def test_a_visit_with_a_photo_while_the_store_is_down_waits_on_the_phone_then_goes_once(
    app, page, page_guard, live_db, rep_world, photo, monkeypatch
):
    """Issue 24: the upload store does not answer (an endpoint where nothing listens): the
    server answers 503 with Retry-After and keeps nothing; the outbox keeps the visit, photo
    and all, and sends it once the store is back."""
    page_guard.expect_console_error(r"status of 503")
    at_the_factory(page_guard)
    sign_in(page, rep_world["rep"])
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    with monkeypatch.context() as down:
        down.setitem(app.config, "CRM_STORAGE_URL", "s3://crm-test/down")
        endpoint = f"http://127.0.0.1:{s3server.spare_port()}"
        down.setitem(app.config, "CRM_S3_ENDPOINT_URL", endpoint)
        page.get_by_label("Photos", exact=True).set_input_files(photo)
        expect(page.locator("img.visit-thumb")).to_have_count(1)
        page.get_by_label("Summary for the factory").fill("Sent while the store was down")
        page.get_by_role("button", name="Save visit").click()
        expect(page.get_by_text("Saved on this phone. Waiting to send: 1.")).to_be_visible()
        assert visits(live_db) == []
    page.goto("/today")  # the store answers again; a page load sends what waits
    wait_for(lambda: len(visits(live_db)) == 1, page, seconds=30)
    expect(page.locator("#outbox-count")).to_be_hidden()
    (visit,) = visits(live_db)
    assert visit.summary == "Sent while the store was down" and len(visit.photos) == 1


def test_the_visit_form_has_thumb_sized_targets_and_one_script_and_stylesheet(
    page, page_guard, rep_world
):
    at_the_factory(page_guard)
    sign_in(page, rep_world["rep"])
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    assert small_tap_targets(page) == []
    own_scripts = page.evaluate(
        "() => Array.from(document.scripts).map(s => s.src).filter(s => !s.includes('/vendor/'))"
    )
    assert [src.rsplit("/", 1)[-1] for src in own_scripts] == ["app.js"]
    assert page.locator("link[rel=stylesheet]").count() == 1
    page_guard.check(page)


def test_a_rep_records_a_voice_note_that_staff_can_play_on_the_factory_page(
    page, page_guard, live_db, rep_world
):
    at_the_factory(page_guard)
    page_guard.context.grant_permissions(["geolocation", "microphone"])
    sign_in(page, rep_world["rep"])
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    expect(page.get_by_text("Location taken: within 12 m.")).to_be_visible()
    expect(page.locator("#voice_note")).to_be_hidden()  # the recorder replaces the file input
    page.get_by_role("button", name="Record a voice note").click()
    timer = page.get_by_role("timer")
    expect(timer).to_have_text(re.compile(r"^0:0[1-9] / 2:00$"), timeout=3_000)  # it runs
    page.wait_for_timeout(1_200)
    page.get_by_role("button", name="Stop").click()
    playback = page.locator("audio#voice-playback")
    expect(playback).to_be_visible()
    assert playback.get_attribute("src").startswith("blob:")
    expect(page.get_by_role("button", name="Remove")).to_be_visible()
    expect(page.get_by_role("button", name="Record a voice note")).to_be_hidden()
    page.get_by_label("Summary for the factory").fill("Talked through the shop photos")
    page_guard.check(page)
    expect(timer).to_have_text(re.compile(r"^Recorded: 0:0[1-4]$"))
    page_guard.screenshot("visit-voice-note-390", page)
    page.get_by_role("button", name="Save visit").click()
    expect(page).to_have_url(re.compile(rf"/factories/{rep_world['factory_id']}"))

    (visit,) = visits(live_db)
    note = visit.voice_note
    assert note is not None and note.content_type == "audio/webm"
    assert 1_500 <= note.duration_ms <= 4_000, note.duration_ms
    player = page.locator("#visits audio")
    expect(player).to_have_attribute("src", f"/visits/{visit.id}/voice")
    expect(player).to_have_attribute("preload", "none")
    expect(
        page.locator("#visits").get_by_text(re.compile(r"^Voice note, 0:0[234]$"))
    ).to_be_visible()
    served = page.request.get(f"/visits/{visit.id}/voice")
    assert served.status == 200 and served.headers["content-type"] == "audio/webm"
    assert len(served.body()) == note.size_bytes
    page_guard.check(page)
    page.locator("#visits").scroll_into_view_if_needed()
    page_guard.screenshot("factory-voice-note-390", page)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.reload()
    page_guard.check(page)
    page_guard.screenshot("factory-voice-note-1280", page)


def test_a_purpose_needing_a_photo_on_the_spot_refuses_an_album_photo_and_says_why(
    page, page_guard, live_db, rep_world, tmp_path
):
    """The album's photo (no capture time) is refused by the photos field; the visit waits in
    the outbox for the rep to take one there."""
    page_guard.expect_console_error(r"status of 422")
    admin = builders.user("admin")
    settings.put(admin, "photo_on_the_spot_purposes", ["follow_up"])
    live_db.commit()
    album = tmp_path / "screenshot.jpg"
    album.write_bytes(builders.image_bytes(1200, 900))
    at_the_factory(page_guard)
    sign_in(page, rep_world["rep"])
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    expect(page.get_by_text("Location taken: within 12 m.")).to_be_visible()
    page.get_by_label("Photos", exact=True).set_input_files(str(album))
    expect(page.locator("img.visit-thumb")).to_have_count(1)
    page.get_by_label("Summary for the factory").fill("Photo from the album")
    page.get_by_role("button", name="Save visit").click()
    # Said at the top, and under the photos, where it is fixed.
    expect(page.locator("#visit-sent-error")).to_contain_text("needs a photo taken on the spot")
    photos_field = page.locator(".field", has=page.get_by_label("Photos", exact=True))
    expect(photos_field.locator(".js-error")).to_contain_text("needs a photo taken on the spot")
    page_guard.screenshot("visit-form-on-the-spot-refused-390", page)
    assert visits(live_db) == []
