"""The admin's settings page: the stored values shown, changes kept and audited, every bad
value refused by its field with nothing stored; the rules read the new values at once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm.models import AuditEntry
from crm.services.accounts import auth
from crm.services.install import settings
from tests import builders
from tests.web.helpers import csrf_token

GOOD = {
    "checkin_radius_m": "500",
    "checkin_accuracy_m": "100",
    "position_max_age_s": "120",
    "freshness_days": "45",
    "long_elementary": "60",
    "long_junior": "120",
    "long_senior": "180",
    "long_university": "400",
    "photo_required_purposes": ["video_shoot", "training"],
    "photo_on_the_spot_purposes": ["video_shoot"],
    "position_retention_days": "180",
    "media_retention_days": "730",
    "sign_in_retention_days": "90",
    "delivery_retention_days": "365",
    "retention_days": "1825",
    "rate_limit_api": "600 per minute",
    "stay_signed_in": "y",
}


@pytest.fixture
def admin(app, db_session):
    user = builders.user("admin")
    db_session.commit()
    auth.start_session(user, "test", "127.0.0.1")
    db_session.commit()
    return app.test_client(user=user), user


def audits(db_session) -> int:
    return db_session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "change_setting")
    )


def test_the_page_shows_the_stored_values(admin):
    client, _ = admin
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'name="checkin_radius_m"' in page and 'value="300"' in page
    assert 'value="300 per minute"' in page
    assert 'value="video_shoot" checked' in page and 'value="training" checked' not in page


def test_a_change_is_stored_audited_and_used_at_once(admin, db_session):
    client, _ = admin
    before = audits(db_session)
    response = client.post(
        "/admin/settings", data={**GOOD, "csrf_token": csrf_token(client, "/admin/settings")}
    )
    assert response.status_code == 303
    assert settings.get("checkin_radius_m") == 500
    assert settings.get("photo_required_purposes") == ["training", "video_shoot"]
    assert settings.get("photo_on_the_spot_purposes") == ["video_shoot"]
    assert settings.get("long_in_stage_days")["university"] == 400
    assert settings.get("rate_limit_api") == "600 per minute"
    # Radius, both purposes, long-in-stage days and the rate limit: five changes, five entries.
    assert audits(db_session) == before + 5
    again = client.post(
        "/admin/settings", data={**GOOD, "csrf_token": csrf_token(client, "/admin/settings")}
    )
    assert again.status_code == 303 and audits(db_session) == before + 5
    assert "Nothing changed." in client.get("/admin/settings").get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("checkin_radius_m", "12a", "Enter a whole number."),
        ("checkin_radius_m", "-5", "Enter a whole number."),
        ("checkin_radius_m", "9", "Enter a number from 20 to 5000."),
        ("long_junior", "4 months", "Enter a whole number."),
        ("retention_days", "30", "Enter a number from 365 to 36500."),
        ("position_retention_days", "7", "Enter a number from 30 to 36500."),
        ("media_retention_days", "30", "Enter a number from 90 to 36500."),
        ("sign_in_retention_days", "a week", "Enter a whole number."),
        ("delivery_retention_days", "99999999", "Enter a whole number."),
        ("delivery_retention_days", "", "Enter a whole number."),
        ("rate_limit_api", "lots", "Write a number"),
        ("photo_required_purposes", ["video_shoot", "karaoke"], "Choose among the visit"),
        ("photo_on_the_spot_purposes", ["karaoke"], "Choose among the visit"),
    ],
)
def test_a_bad_value_is_refused_by_its_field_and_nothing_changes(
    admin, db_session, field, value, message
):
    client, _ = admin
    before = audits(db_session)
    data = {**GOOD, field: value, "csrf_token": csrf_token(client, "/admin/settings")}
    response = client.post("/admin/settings", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page and 'class="error"' in page
    assert settings.get("checkin_radius_m") == 300  # the good values were not stored either
    assert audits(db_session) == before


def test_the_retention_periods_are_shown_under_their_heading_stored_and_audited(admin, db_session):
    client, _ = admin
    page = client.get("/admin/settings").get_data(as_text=True)
    retention = page[page.index('id="retention-title"') : page.index('id="limits-title"')]
    for name, days in (
        ("position_retention_days", 180),
        ("media_retention_days", 730),
        ("sign_in_retention_days", 90),
        ("delivery_retention_days", 365),
        ("retention_days", 1825),
    ):
        assert re.search(rf'<input [^>]*id="{name}"[^>]*value="{days}"', retention), name
    assert "Keep visit photos and voice notes for (days)" in retention
    before = audits(db_session)
    data = {**GOOD, "media_retention_days": "1000", "position_retention_days": "365"}
    response = client.post(
        "/admin/settings", data={**data, "csrf_token": csrf_token(client, "/admin/settings")}
    )
    assert response.status_code == 303
    assert settings.get("media_retention_days") == 1000
    assert settings.get("position_retention_days") == 365
    assert audits(db_session) == before + 7  # the five of GOOD, and these two


def test_the_admin_turns_off_staying_signed_in_for_the_whole_install(admin, db_session):
    client, _ = admin
    page = client.get("/admin/settings").get_data(as_text=True)
    assert re.search(r'<input [^>]*checked id="stay_signed_in"', page)
    data = {**GOOD, "csrf_token": csrf_token(client, "/admin/settings")}
    del data["stay_signed_in"]  # unticked
    before = audits(db_session)
    assert client.post("/admin/settings", data=data).status_code == 303
    assert settings.get("stay_signed_in") is False
    assert audits(db_session) == before + 6  # the five of GOOD, and this one
    page = client.get("/admin/settings").get_data(as_text=True)
    assert re.search(r'<input [^>]*id="stay_signed_in"', page)
    assert not re.search(r'<input [^>]*checked id="stay_signed_in"', page)


def test_only_an_admin_reaches_the_settings(app, db_session):
    manager = builders.user("manager", leads=[builders.team()])
    db_session.commit()
    auth.start_session(manager, "test", "127.0.0.1")
    db_session.commit()
    assert app.test_client(user=manager).get("/admin/settings").status_code == 403


# --- the map tile address ---------------------------------------------------------------------

TILES = "https://tiles.example.org/{z}/{x}/{y}.png"


def test_a_tile_address_is_stored_shown_and_let_into_todays_policy(admin, db_session):
    client, _ = admin
    before = audits(db_session)
    data = {
        **GOOD,
        "map_tile_url": f"  {TILES} ",
        "csrf_token": csrf_token(client, "/admin/settings"),
    }
    assert client.post("/admin/settings", data=data).status_code == 303
    assert settings.get("map_tile_url") == TILES  # trimmed
    assert audits(db_session) == before + 6  # the five of GOOD and the tile address
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'name="map_tile_url"' in page and f'value="{TILES}"' in page
    assert "https://tiles.example.org" in client.get("/today").headers["Content-Security-Policy"]
    # Emptied again: no tiles, and no other host in the policy.
    data = {**GOOD, "map_tile_url": "", "csrf_token": csrf_token(client, "/admin/settings")}
    assert client.post("/admin/settings", data=data).status_code == 303
    assert settings.get("map_tile_url") == ""
    assert "tiles.example.org" not in client.get("/today").headers["Content-Security-Policy"]


def test_a_loopback_tile_server_may_use_plain_http(admin):
    client, _ = admin
    url = "http://127.0.0.1:8765/tiles/{z}/{x}/{y}.png"
    data = {**GOOD, "map_tile_url": url, "csrf_token": csrf_token(client, "/admin/settings")}
    assert client.post("/admin/settings", data=data).status_code == 303
    assert settings.get("map_tile_url") == url


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://tiles.example.org/{z}/{x}/{y}.png", "Use an https address"),
        ("ftp://tiles.example.org/{z}/{x}/{y}.png", "Use an https address"),
        ("https://tiles.example.org/{z}/{x}.png", "Put {z}, {x} and {y} in the address"),
        ("https://tiles.example.org/tile.png", "Put {z}, {x} and {y} in the address"),
        ("https://{s}.tiles.example.org/{z}/{x}/{y}.png", "Write the whole address"),
        ("https://tiles.example.org/{z}/{x}/{y}.png?key={key}", "Use only {z}, {x} and {y}"),
        ("tiles.example.org/{z}/{x}/{y}.png", "Write the whole address"),
        ("https://tiles.example.org/{z}/{x}/{y}.png; script-src *", "Write the whole address"),
        ('https://tiles.example.org/{z}/{x}/{y}.png"', "Write the whole address"),
        ("https://user:pw@tiles.example.org/{z}/{x}/{y}.png", "Write the whole address"),
        ("https://tiles.example.org/{z}/{x}/{y}/" + "a" * 270, "300 characters or fewer"),
    ],
)
def test_a_bad_tile_address_is_refused_by_its_field_and_nothing_changes(
    admin, db_session, value, message
):
    client, _ = admin
    before = audits(db_session)
    data = {**GOOD, "map_tile_url": value, "csrf_token": csrf_token(client, "/admin/settings")}
    response = client.post("/admin/settings", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    error = page[page.index('id="map_tile_url-error"') :]
    assert message in error[: error.index("</p>")].replace("&#39;", "'")
    assert 'aria-invalid="true"' in page[page.index('name="map_tile_url"') - 300 :]
    assert settings.get("map_tile_url") == ""
    assert settings.get("checkin_radius_m") == 300  # the good values were not stored either
    assert audits(db_session) == before
    assert "tiles.example.org" not in client.get("/today").headers["Content-Security-Policy"]


def test_a_stage_s_expected_time_left_empty_is_never_long_in_stage(admin, db_session):
    client, _ = admin
    data = {**GOOD, "long_university": " ", "csrf_token": csrf_token(client, "/admin/settings")}
    response = client.post("/admin/settings", data=data)
    assert response.status_code == 303
    assert "university" not in settings.get("long_in_stage_days")
    assert settings.get("long_in_stage_days")["junior"] == int(GOOD["long_junior"])
