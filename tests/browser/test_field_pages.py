"""The pages a rep uses in the field fit a thumb: 44 px targets, one script, one stylesheet."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.clock import now
from crm.services.growth import stages
from tests import builders
from tests.browser.guard import small_tap_targets
from tests.browser.test_homes import sign_in


@pytest.fixture
def rep_patch(live_db):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    belt = builders.belt(team)
    factory = builders.factory(belt, owner=rep, stage="junior", name="永康市恒达五金制品有限公司")
    stages.create_stage_tasks(factory, "junior", now())
    builders.contact(factory)
    builders.visit(factory, rep, summary="店铺照片已重拍")
    builders.follow_up(factory, rep, now() - timedelta(hours=2), reason="Check the shop photos")
    builders.factory(belt, status="prospect", name="Prospect Tools Co.")
    live_db.commit()
    return {"rep": rep.email, "factory_id": factory.id}


def test_the_field_pages_have_thumb_sized_targets(page, page_guard, rep_patch):
    sign_in(page, rep_patch["rep"])
    for path in (
        "/today",
        "/factories/",
        f"/factories/{rep_patch['factory_id']}",
        f"/visit?factory={rep_patch['factory_id']}",
    ):
        page.goto(path)
        assert small_tap_targets(page) == [], path
        scripts = page.evaluate("() => Array.from(document.scripts).map(s => s.src)")
        own = [src for src in scripts if "/vendor/" not in src]
        assert [src.rsplit("/", 1)[-1] for src in own] == ["app.js"], path
        assert page.locator("link[rel=stylesheet]").count() == 1, path
        page_guard.check(page)
