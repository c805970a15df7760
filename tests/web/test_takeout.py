"""A person's own data to take away (issue 23, point 4): a factory user's zip of their factory,
a member of staff's zip of their own account and visits; long work, fetched once through a link
that expires, by the person who asked alone."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile
from datetime import timedelta
from functools import partial

import pytest
import time_machine
from sqlalchemy import select

from crm.errors import NotFound
from crm.extensions import db
from crm.models import VisitCorrection, VisitReview, WorkRequest
from crm.services import storage
from crm.services.install import work
from crm.services.privacy import processing, takeout
from tests import builders
from tests.web.helpers import csrf_token
from tests.web.test_portal import (  # noqa: F401 (frozen_clock, world: the portal's own)
    NOW,
    SECRET,
    frozen_clock,
    hand_in,
    open_task,
    signed_in,
    world,
)

# One marker in every staff-only field (beside the portal world's internal note, SECRET, and its
# follow-up's reason): none may reach a factory's zip.
STAFF_ONLY = {
    "notes": SECRET,
    "correction": "CORRECTION-NOTE-51c2",
    "review": "REVIEW-NOTE-9b1d",
    "review_answer": "REVIEW-ANSWER-0e77",
    "follow_up": f"Push {SECRET}",
    "waive": "WAIVE-REASON-c4d2",
    "old_send_back": "SENT-BACK-BEFORE-DONE-66f0",
    "override": "OVERRIDE-REASON-1f9a",
    "distance": "4321.75",
    "latitude": "29.876543",
    "longitude": "120.123987",
}


@pytest.fixture
def marked(world, db_session):  # noqa: F811 (the portal's world, extended)
    """The portal's world, with a marker planted in each staff-only field of the factory."""
    factory, rep = world["factory"], world["rep"]
    factory.is_key_account = True
    factory.credit_code_override_reason = STAFF_ONLY["override"]
    visit = builders.visit(
        factory,
        rep,
        purpose="training",
        checked_in_at=NOW - timedelta(days=3),
        summary="Workshop tour",
        distance_m=float(STAFF_ONLY["distance"]),
        off_site=True,
        lat=float(STAFF_ONLY["latitude"]),
        lng=float(STAFF_ONLY["longitude"]),
        accuracy_m=12.0,
    )
    db_session.add(
        VisitCorrection(
            visit_id=visit.id,
            corrected_by_id=rep.id,
            corrected_at=NOW,
            purpose="training",
            notes=STAFF_ONLY["correction"],
        )
    )
    db_session.add(
        VisitReview(
            visit_id=visit.id,
            state="answered",
            reviewer_id=rep.id,
            reviewed_at=NOW,
            note=STAFF_ONLY["review"],
            answer=STAFF_ONLY["review_answer"],
        )
    )
    builders.task(factory, "Waived item", status="waived", waive_reason=STAFF_ONLY["waive"])
    builders.task(factory, "Done item", status="done", send_back_reason=STAFF_ONLY["old_send_back"])
    builders.contact(factory, name="Wang Lei", phone="138 1234 5678")
    builders.contact(world["other"], name="Other Contact")
    db_session.commit()
    return world


def ask(client):
    token = csrf_token(client, "/account/")
    return client.post("/account/data", data={"csrf_token": token})


def ready_link(client) -> str:
    """Ask, let the scheduler do the work, and read the link off the account page."""
    assert ask(client).status_code == 303
    work.drain("test-scheduler")
    page = html.unescape(client.get("/account/").get_data(as_text=True))
    match = re.search(r'href="(/account/data/download\?token=[^"]+)"', page)
    assert match, page
    return match.group(1)


def unzip(response) -> dict[str, bytes]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rows(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[name].decode("utf-8-sig"))))


# --- a factory's zip ------------------------------------------------------------------------


def test_a_factory_user_takes_away_the_factory_and_nothing_staff_only(app, marked):
    task = open_task(marked["factory"])
    client = signed_in(app, marked["user"])
    photo = (io.BytesIO(builders.image_bytes()), "shop.jpg", "image/jpeg")
    assert hand_in(client, task, evidence_note="Our shop is open", photo=photo).status_code == 303
    files = unzip(client.get(ready_link(client)))

    assert {"README.txt", "factory.json", "contacts.csv", "checklist.csv", "visits.csv"} <= set(
        files
    )
    factory = json.loads(files["factory.json"])
    assert factory["factory"]["name"] == "Yongkang Hengda Hardware"
    assert factory["you"]["login"] == marked["user"].login
    assert [row["name"] for row in rows(files, "contacts.csv")] == ["Wang Lei"]
    visits = rows(files, "visits.csv")
    assert [(v["purpose"], v["summary"]) for v in visits] == [
        ("follow_up", "Shop photos retaken"),
        ("training", "Workshop tour"),
    ]
    assert set(visits[0]) == {"checked_in_at", "rep", "purpose", "summary"}
    checklist = {row["title"]: row for row in rows(files, "checklist.csv")}
    handed_in = checklist[task.title_en]
    assert handed_in["status"] == "submitted" and handed_in["evidence_note"] == "Our shop is open"
    assert files[handed_in["evidence_photo"]].startswith(b"\xff\xd8")  # the JPEG itself
    assert checklist["Waived item"]["status"] == "waived"
    assert "contacts.csv" in files["README.txt"].decode()

    everything = b"\n".join(files.values()).decode("utf-8", "replace")
    for field, marker in STAFF_ONLY.items():
        assert marker not in everything, field
    for theirs in ("Another Works Ltd", "Elsewhere", "Other Contact"):
        assert theirs not in everything
    assert "key_account" not in everything and "off_site" not in everything


def test_the_factory_card_shows_progress_then_the_link(app, marked):
    client = signed_in(app, marked["user"])
    assert "Download our data" in client.get("/portal/").get_data(as_text=True)
    assert ask(client).status_code == 303
    page = client.get("/account/").get_data(as_text=True)
    assert "Waiting to start…" in page and "/account/data/download" not in page
    request = db.session.scalar(select(WorkRequest).where(WorkRequest.kind == takeout.KIND))
    assert request.arguments["what"] == "factory"
    assert ask(client).status_code == 303  # asking again while it waits reuses it
    assert len(db.session.scalars(select(WorkRequest)).all()) == 1
    progress = client.get("/account/data/progress").get_json()
    assert progress == {"state": "waiting", "percent": 0, "done": False}
    work.drain("test-scheduler")
    assert client.get("/account/data/progress").get_json()["state"] == "ready"
    page = client.get("/account/").get_data(as_text=True)
    assert "Download the zip" in page and "The link works once" in page


def test_the_work_handler_keeps_the_zip_in_the_store(app, marked):
    user = marked["user"]
    request, _token = takeout.ask(user, NOW, "en")
    db.session.commit()
    claimed = work.claim(request.id, "test", NOW)
    done = work.run(claimed)
    assert done.status == "done", done.error
    data = storage.store().read(takeout.key_of(done.result["file"]))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert "README.txt" in archive.namelist()
    assert done.result["size"] == len(data)


# --- once, in time, for the asker alone -----------------------------------------------------


def test_the_link_works_once(app, marked):
    client = signed_in(app, marked["user"])
    link = ready_link(client)
    first = client.get(link)
    assert first.status_code == 200
    request = db.session.scalar(select(WorkRequest).where(WorkRequest.kind == takeout.KIND))
    first.close()
    kept = storage.store()
    assert not kept.exists(takeout.key_of(request.result["file"]))  # deleted once sent
    again = client.get(link)
    assert again.status_code == 410
    assert "used already or has expired" in html.unescape(again.get_data(as_text=True))
    assert "Downloaded." in client.get("/account/").get_data(as_text=True)


def test_the_link_expires_after_a_day(app, marked):
    client = signed_in(app, marked["user"])
    link = ready_link(client)
    with time_machine.travel(NOW + takeout.VALID_FOR + timedelta(minutes=1), tick=False):
        assert client.get(link).status_code == 410
        assert "has expired" in client.get("/account/").get_data(as_text=True)


def test_the_link_is_only_for_the_person_who_asked(app, marked):
    link = ready_link(signed_in(app, marked["user"]))
    assert signed_in(app, marked["other_user"]).get(link).status_code == 404
    assert signed_in(app, marked["rep"]).get(link).status_code == 404
    colleague = builders.user("factory", factory=marked["factory"])
    db.session.commit()
    assert signed_in(app, colleague).get(link).status_code == 404
    anonymous = app.test_client().get(link)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    # ...and the asker's own link still works after all those refusals.
    assert signed_in(app, marked["user"]).get(link).status_code == 200


@pytest.mark.parametrize("token", ["x", "../../etc/passwd", "A" * 43, "\x00" * 30, "é" * 30])
def test_a_bad_token_is_not_found(app, marked, token):
    client = signed_in(app, marked["user"])
    ready_link(client)
    assert client.get("/account/data/download", query_string={"token": token}).status_code == 404


def test_the_sweep_deletes_exports_nobody_fetched(app, marked):
    """...and the record of processing counts an export until it is fetched or expired."""
    client = signed_in(app, marked["user"])
    ready_link(client)
    request = db.session.scalar(select(WorkRequest).where(WorkRequest.kind == takeout.KIND))
    key, kept = takeout.key_of(request.result["file"]), storage.store()
    # The file's time is the store's, not the frozen clock's.
    (written,) = [entry.modified for entry in kept.list("takeouts/") if entry.key == key]
    assert processing.counts()["exports"] == 1
    sweep = partial(takeout.sweep_files, db.session)
    assert next(sweep(written + timedelta(hours=23)))["data_exports_removed"] == 0
    assert kept.exists(key)
    later = written + takeout.VALID_FOR + timedelta(minutes=1)
    assert next(sweep(later))["data_exports_removed"] >= 1
    assert not kept.exists(key)
    assert processing.counts()["exports"] == 0


# --- a member of staff's zip ----------------------------------------------------------------


def test_a_rep_takes_away_their_account_and_own_visits_without_coordinates(app, marked):
    client = signed_in(app, marked["rep"])
    assert "Download my data" in client.get("/account/").get_data(as_text=True)
    files = unzip(client.get(ready_link(client)))
    assert {"README.txt", "account.json", "visits.csv", "follow_ups.csv"} <= set(files)
    assert "factory.json" not in files  # a rep's own data, never a factory's export
    account = json.loads(files["account.json"])
    assert account["email"] == marked["rep"].email and account["role"] == "rep"
    assert account["location_consent"]["consents_now"] is True
    assert account["devices"] and account["devices"][0]["browser"] == "test"
    visits = {row["summary"]: row for row in rows(files, "visits.csv")}
    assert SECRET in visits["Shop photos retaken"]["notes"]
    assert visits["Elsewhere"]["factory"] == "Another Works Ltd"  # their visit, any factory
    toured = visits["Workshop tour"]
    assert toured["off_site"] == "1" and toured["position_not_shared"] == "0"
    assert float(toured["distance_m"]) == float(STAFF_ONLY["distance"])
    everything = b"\n".join(files.values()).decode("utf-8", "replace")
    assert STAFF_ONLY["latitude"] not in everything and STAFF_ONLY["longitude"] not in everything
    assert STAFF_ONLY["follow_up"] in files["follow_ups.csv"].decode("utf-8-sig")


def test_a_reps_zip_holds_no_other_reps_visits(app, marked):
    other_rep = builders.user("rep", team_=marked["rep"].team)
    builders.visit(marked["factory"], other_rep, summary="Not mine", notes="OTHER-REP-NOTE")
    db.session.commit()
    client = signed_in(app, marked["rep"])
    files = unzip(client.get(ready_link(client)))
    assert b"OTHER-REP-NOTE" not in b"".join(files.values())


def test_asking_again_while_it_runs_reuses_the_work_and_only_the_newest_link_works(app, marked):
    user = marked["user"]
    first, first_token = takeout.ask(user, NOW, "en")
    again, new_token = takeout.ask(user, NOW, "en")
    db.session.commit()
    assert again.id == first.id and new_token != first_token
    work.drain("test-scheduler")
    with pytest.raises(NotFound) as refused:
        takeout.take(user, first_token, NOW)
    assert refused.value.status == 404
    key, filename = takeout.take(user, new_token, NOW)
    assert storage.store().exists(key) and filename.endswith(".zip")
