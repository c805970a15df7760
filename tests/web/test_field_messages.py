"""Each length and range message names the field it is about, in English and in Chinese.

One shared "Use at most N characters." was translated once, for the password, and then said
密码 ("password") under a company name; every form, service and API field now says its own.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from crm.extensions import db
from crm.models import StageDefinition
from crm.models.factory import CONTACT_ROLE_MAX, FACTORY_NAME_MAX
from crm.services.accounts import auth
from tests import builders
from tests.web.helpers import csrf_token

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team = builders.team()
    belt = builders.belt(team)
    records = {"belt": belt}
    for locale in ("en", "zh_Hans"):
        rep = builders.user("rep", team_=team, locale=locale)
        records[f"rep_{locale}"] = rep
        records[f"factory_{locale}"] = builders.factory(belt, owner=rep, name="Hengda")
        records[f"admin_{locale}"] = builders.user("admin", locale=locale)
    db_session.commit()
    return records


def field_error(response, field_id: str) -> str:
    page = html.unescape(response.get_data(as_text=True))
    match = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', page)
    assert match, f"no message by {field_id} ({response.status_code})"
    return match.group(1)


def post(client, path: str, data: dict):
    token = csrf_token(client, "/account/")
    return client.post(path, data={"csrf_token": token, **data})


def signed_in(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    db.session.commit()
    return app.test_client(user=user)


def too_long_everywhere(app, world, locale: str) -> dict[str, str]:
    """The message under each field of several forms, sent one character too many."""
    factory = world[f"factory_{locale}"]
    client = signed_in(app, world[f"rep_{locale}"])
    edit = {"name": "厂" * (FACTORY_NAME_MAX + 1), "category": "", "address": "", "lat": ""}
    contact = {"contact-name": "王经理", "contact-role": "x" * (CONTACT_ROLE_MAX + 1)}
    messages = {
        "factory name": field_error(post(client, f"/factories/{factory.id}/edit", edit), "name"),
        "contact role": field_error(
            post(client, f"/factories/{factory.id}/contacts", contact), "contact-role"
        ),
        "new password": field_error(
            post(
                client,
                "/account/password",
                {"current_password": builders.PASSWORD, "new_password": "short"},
            ),
            "new_password",
        ),
    }
    admin = signed_in(app, world[f"admin_{locale}"])
    junior = db.session.scalar(select(StageDefinition).where(StageDefinition.code == "junior"))
    stage = {"name_en": "x" * 101, "name_zh": junior.name_zh, "cadence_days": "14"}
    messages["stage name"] = field_error(
        post(admin, f"/admin/stages/{junior.id}", stage), "name_en"
    )
    return messages


def test_each_too_long_message_names_its_own_field(app, world):
    assert too_long_everywhere(app, world, "en") == {
        "factory name": "Factory name: use at most 200 characters (now 201).",
        "contact role": "Role: use at most 60 characters (now 61).",
        "new password": "Password: use at least 10 characters.",
        "stage name": "Name in English: use at most 100 characters (now 101).",
    }


def test_each_too_long_message_names_its_own_field_in_chinese(app, world):
    """In Chinese each message names its field too (it said 密码, password, under every field)."""
    messages = too_long_everywhere(app, world, "zh_Hans")
    assert messages == {
        "factory name": "企业名称最多200个字符（当前201个）。",
        "contact role": "职务最多60个字符（当前61个）。",
        "new password": "密码至少需要10个字符。",
        "stage name": "英文名称最多100个字符（当前101个）。",
    }
    assert all("密码" not in text for name, text in messages.items() if name != "new password")


def test_an_api_field_too_long_is_named_in_the_json_error(app, world):
    rep = world["rep_en"]
    client = signed_in(app, rep)
    factory = world["factory_en"]
    answer = client.patch(
        f"/api/v1/factories/{factory.id}",
        json={"name": "x" * (FACTORY_NAME_MAX + 1)},
        headers={"X-CSRFToken": csrf_token(client, "/account/")},
    )
    assert answer.status_code == 422, answer.get_data(as_text=True)
    error = answer.get_json()["error"]
    assert error["fields"]["name"].startswith("name: use at most 200 characters")
