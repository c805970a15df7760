"""Privacy (issue 23): the notice, the separate consent to location at check-in, what the audit log
and the access log never copy, a route's start kept for its day, and the record of processing."""

from __future__ import annotations

import html
import json
import re
import runpy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import inspect, select

from crm.extensions import db
from crm.models import AuditEntry, RoutePlan, User, Visit
from crm.services.field import day_route
from crm.services.install import settings
from crm.services.privacy import consent, processing
from tests import builders
from tests.web.helpers import csrf_token
from tests.web.test_visits import (  # noqa: F401 (frozen_clock: the same day as the visits')
    HERE,
    NOW,
    fields,
    frozen_clock,
    post_api,
    signed_in,
)

CONSENTED_ON_PHONE = "2026-11-25T09:50:00+08:00"


@pytest.fixture
def world(db_session):
    team = builders.team()
    rep = builders.user("rep", team_=team, location_consent=False)
    factory = builders.factory(builders.belt(team), owner=rep, lat=HERE[0], lng=HERE[1])
    db_session.commit()
    return {"rep": rep, "factory": factory, "team": team}


def visit_of(rep: User) -> Visit:
    db.session.expire_all()
    return db.session.scalar(select(Visit).where(Visit.rep_id == rep.id).order_by(Visit.id.desc()))


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- the notice --------------------------------------------------------------------------------


def test_the_notice_is_public_in_both_languages_and_says_each_retention_setting(app, db_session):
    settings.put(builders.user("admin"), "media_retention_days", 400)
    db_session.commit()
    client = app.test_client()
    page = page_text(client.get("/privacy/"))
    for kind in processing.KINDS:
        assert str(kind.name) in page
    assert "400 days." in page and "180 days." in page and "1825 days." in page
    assert "Location at check-in" in page and "Your rights" in page
    chinese = page_text(client.get("/privacy/", headers={"Accept-Language": "zh-CN"}))
    assert "隐私" in chinese and "签到时的位置" in chinese and "400 天" in chinese


def test_the_sign_in_page_and_every_signed_in_page_link_to_the_notice(app, world):
    assert 'href="/privacy/"' in app.test_client().get("/login").get_data(as_text=True)
    client = signed_in(app, world["rep"])
    for path in ("/today", "/account/", f"/factories/{world['factory'].id}", "/visit"):
        assert 'href="/privacy/"' in client.get(path).get_data(as_text=True), path


def test_every_kind_names_real_tables_and_a_real_setting(app, db_session):
    tables = set(inspect(db.engine).get_table_names())
    for kind in processing.KINDS:
        assert set(kind.tables) <= tables, kind.key
        assert kind.setting is None or kind.setting in settings.DEFAULTS, kind.key


# --- consent at check-in -----------------------------------------------------------------------


def test_without_consent_a_check_in_keeps_no_position_and_is_not_off_site(app, world):
    client = signed_in(app, world["rep"])
    response = post_api(client, fields(world["factory"]))
    assert response.status_code == 201, response.get_json()
    visit = visit_of(world["rep"])
    assert (visit.lat, visit.lng, visit.accuracy_m, visit.position_at) == (None,) * 4
    assert visit.position_withheld and not visit.off_site and visit.distance_m is None
    assert response.get_json()["visit"]["position_withheld"] is True
    page = page_text(client.get(f"/factories/{world['factory'].id}"))
    assert "Position not shared" in page


def test_a_consent_carried_by_the_first_outbox_item_is_kept_with_its_time_and_version(app, world):
    client = signed_in(app, world["rep"])
    data = fields(world["factory"], location_consent="1", location_consent_at=CONSENTED_ON_PHONE)
    assert post_api(client, data).status_code == 201
    visit = visit_of(world["rep"])
    assert (visit.lat, visit.lng) == HERE and not visit.position_withheld and not visit.off_site
    rep = db.session.get(User, world["rep"].id)
    assert rep.location_consent_version == consent.NOTICE_VERSION
    assert rep.location_consent_at == datetime(2026, 11, 25, 1, 50, tzinfo=UTC)
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "give_location_consent")
    )
    assert entry.actor_id == rep.id and entry.changes["location_consent_version"] == [None, 1]
    # The same item sent again is the same visit: the consent is not part of its fingerprint.
    assert post_api(client, data).status_code == 200


def test_a_new_version_of_the_notice_asks_again(app, world, monkeypatch):
    consent.give(world["rep"], consent.NOTICE_VERSION, NOW, NOW)
    db.session.commit()
    client = signed_in(app, world["rep"])
    assert 'data-location-at="' in client.get("/visit").get_data(as_text=True)
    monkeypatch.setattr(consent, "NOTICE_VERSION", consent.NOTICE_VERSION + 1)
    page = client.get("/visit").get_data(as_text=True)
    assert 'data-location-notice="2"' in page and 'data-location-at="' not in page
    assert 'id="location-consent"' in page
    # A phone that showed the earlier notice carries a consent to it: not taken.
    data = fields(world["factory"], location_consent="1", location_consent_at=CONSENTED_ON_PHONE)
    assert post_api(client, data).status_code == 201
    assert visit_of(world["rep"]).position_withheld
    assert "Off" in page_text(client.get("/account/"))


def test_withdrawing_on_the_account_page_stops_positions_and_outlasts_an_older_phone_consent(
    app, world
):
    client = signed_in(app, world["rep"])
    token = csrf_token(client, "/account/")
    response = client.post("/account/location", data={"csrf_token": token, "choice": "give"})
    assert response.status_code == 303
    assert "Location at check-in is on" in page_text(client.get("/account/"))
    assert consent.consents(db.session.get(User, world["rep"].id))

    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        response = client.post(
            "/account/location", data={"csrf_token": token, "choice": "withdraw"}
        )
        assert response.status_code == 303
        db.session.expire_all()
        rep = db.session.get(User, world["rep"].id)
        assert not consent.consents(rep)
        assert rep.location_withdrawn_at == NOW + timedelta(minutes=20)
        # A visit queued on a phone whose consent was given before the withdrawal.
        data = fields(
            world["factory"],
            checked_in_at="2026-11-25T10:19:00+08:00",
            position_at="2026-11-25T02:18:40Z",
            location_consent="1",
            location_consent_at=CONSENTED_ON_PHONE,
        )
        assert post_api(client, data).status_code == 201
    visit = visit_of(world["rep"])
    assert visit.lat is None and visit.position_withheld
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.record_type == "user").order_by(AuditEntry.id)
    ).all()
    assert actions[-2:] == ["give_location_consent", "withdraw_location_consent"]


@pytest.mark.parametrize(
    "choice, message", [("", "Choose to allow location"), ("maybe", "Not a valid choice")]
)
def test_a_bad_choice_is_refused_by_the_field_and_changes_nothing(app, world, choice, message):
    client = signed_in(app, world["rep"])
    token = csrf_token(client, "/account/")
    response = client.post("/account/location", data={"csrf_token": token, "choice": choice})
    assert response.status_code == 422
    assert message in page_text(response)
    db.session.expire_all()
    assert db.session.get(User, world["rep"].id).location_consent_at is None


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"location_consent": "1"}, "location_consent_at"),
        ({"location_consent_at": CONSENTED_ON_PHONE}, "location_consent"),
        (
            {"location_consent": "one", "location_consent_at": CONSENTED_ON_PHONE},
            "location_consent",
        ),
        ({"location_consent": "1", "location_consent_at": "yesterday"}, "location_consent_at"),
    ],
)
def test_a_malformed_consent_is_refused_by_its_field(app, world, changes, field):
    client = signed_in(app, world["rep"])
    response = post_api(client, fields(world["factory"], **changes))
    assert response.status_code in (400, 422)
    assert field in response.get_json()["error"]["fields"]
    assert visit_of(world["rep"]) is None
    assert db.session.get(User, world["rep"].id).location_consent_at is None


def test_the_visit_page_asks_only_those_who_have_not_consented(app, world):
    client = signed_in(app, world["rep"])
    page = client.get("/visit").get_data(as_text=True)
    assert 'data-location-notice="1"' in page and 'data-location-at="' not in page
    assert "Share your location when you check in?" in html.unescape(page)
    factory_user = builders.user("factory", factory=world["factory"])
    db.session.commit()
    portal = signed_in(app, factory_user).get("/portal/").get_data(as_text=True)
    assert "data-location-notice" not in portal


# --- what is never copied ------------------------------------------------------------------------


def test_the_audit_log_copies_no_position_note_or_phone_number(app, world):
    """Planted values, through the pages and services that write the log: none of them is in any
    entry, while each entry still says which field changed."""
    rep = world["rep"]
    consent.give(rep, consent.NOTICE_VERSION, NOW, NOW)
    db.session.commit()
    client = signed_in(app, rep)
    planted = {"notes": "NOTE-PLANTED-7731", "lat": "29.8712345", "phone": "13912345678"}
    data = fields(world["factory"], notes=planted["notes"], lat=planted["lat"])
    assert post_api(client, data).status_code == 201
    token = csrf_token(client, f"/factories/{world['factory'].id}")
    response = client.post(
        f"/factories/{world['factory'].id}/contacts",
        data={
            "csrf_token": token,
            "contact-name": "王经理",
            "contact-phone": "139 1234 5678",
            "contact-role": "owner",
        },
    )
    assert response.status_code in (200, 201, 303), response.status_code
    visit = visit_of(rep)
    correction = client.post(
        f"/visits/{visit.id}/correct",
        data={
            "csrf_token": token,
            "purpose": visit.purpose,
            "summary": visit.summary,
            "notes": "NOTE-PLANTED-CORRECTED",
            "contact_id": "",
        },
    )
    assert correction.status_code in (200, 303), correction.status_code
    entries = db.session.scalars(select(AuditEntry)).all()
    text = json.dumps([entry.changes for entry in entries], ensure_ascii=False)
    for value in (*planted.values(), "139 1234 5678", "NOTE-PLANTED-CORRECTED", "29.87123"):
        assert value not in text, value
    contact_entry = next(e for e in entries if e.record_type == "contact")
    assert contact_entry.changes["phone"] == [None, "not_copied"]


def test_the_access_log_keeps_no_query_string_or_referrer():
    config = runpy.run_path(str(Path(__file__).parents[2] / "gunicorn.conf.py"))
    line = config["access_log_format"]
    assert "%(U)s" in line
    for atom in ("%(r)s", "%(q)s", "%(f)s"):
        assert atom not in line


def test_a_route_keeps_its_start_for_its_day_and_only_with_consent(app, world):
    rep, factory = world["rep"], world["factory"]
    plan = day_route.choose(rep, NOW, [factory.id], (29.86, 121.53))
    assert plan.start_lat is None  # no consent: the route starts at its first stop
    consent.give(rep, consent.NOTICE_VERSION, NOW, NOW)
    plan = day_route.choose(rep, NOW, [factory.id], (29.86, 121.53))
    assert (plan.start_lat, plan.start_lng) == (29.86, 121.53)
    db.session.commit()
    assert day_route.forget_past_starts(NOW + timedelta(hours=6)) == 0  # still its day
    assert day_route.forget_past_starts(NOW + timedelta(days=1)) == 1
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(RoutePlan, plan.id).start_lat is None


# --- the record of processing ---------------------------------------------------------------------


def test_the_record_of_processing_counts_what_the_install_holds(app, world):
    admin = builders.user("admin")
    consent.give(world["rep"], consent.NOTICE_VERSION, NOW, NOW)
    builders.visit(world["factory"], world["rep"])
    db.session.commit()
    page = page_text(signed_in(app, admin).get("/admin/privacy"))
    assert "Record of processing" in page
    for kind in processing.KINDS:
        assert f'id="record-{kind.key}"' in page
    counts = processing.counts()
    row = re.search(r'id="record-visits".*?<td class="num">(\d+)</td>', page, re.S)
    assert int(row.group(1)) == counts["visits"] == 1
    # the admin consents (builders' default) and so does the rep now
    assert re.search(r'<span class="count-number">2</span> staff allow location', page)


def test_staff_see_a_check_ins_distance_never_its_coordinates(app, world):
    """The factory page, its history and the API's visits show the distance; the position the
    phone sent is in no answer (a manager's and an admin's included)."""
    rep, factory = world["rep"], world["factory"]
    consent.give(rep, consent.NOTICE_VERSION, NOW, NOW)
    db.session.commit()
    client = signed_in(app, rep)
    data = fields(factory, lat="29.8711111", lng="121.5422222")
    assert post_api(client, data).status_code == 201
    visit = visit_of(rep)
    assert visit.lat == 29.8711111 and visit.distance_m is not None
    manager = builders.user("manager", leads=[world["team"]])
    admin = builders.user("admin")
    db.session.commit()
    for user in (rep, manager, admin):
        reader = signed_in(app, user)
        for path in (
            f"/factories/{factory.id}",
            f"/factories/{factory.id}/history",
            "/api/v1/visits",
            f"/api/v1/visits/{visit.id}",
        ):
            response = reader.get(path)
            assert response.status_code == 200, (user.role, path, response.status_code)
            body = response.get_data(as_text=True)
            assert "29.871111" not in body and "121.542222" not in body, (user.role, path)
