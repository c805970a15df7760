"""The decision queue (issue 21, point 1): one card's form never spreads to another, pages of 25
with filters in the URL, the evidence behind "Eligible", the override from the card, and bulk
approval that names its factories before anything changes."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select

from crm.extensions import db
from crm.models import MetricSnapshot, StageChange, Task
from crm.services.accounts import api_tokens
from crm.services.growth import promotions, stages
from tests import builders
from tests.web.helpers import csrf_token, sign_in
from tests.web.test_factory_page import counted_statements

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def eligible_factory(belt, rep, name: str):
    factory = builders.factory(belt, owner=rep, stage="elementary", name=name)
    stages.create_stage_tasks(factory, "elementary", NOW)
    for task in db.session.scalars(select(Task).where(Task.factory_id == factory.id)):
        task.status = "done"
    return factory


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt, second_belt = builders.belt(team), builders.belt(team)
    other_belt = builders.belt(other_team)
    rep, second_rep = builders.user("rep", team_=team), builders.user("rep", team_=team)
    cups = eligible_factory(belt, rep, "Yongkang Cups Co.")
    pans = eligible_factory(second_belt, second_rep, "Anji Pans Ltd.")
    hidden = eligible_factory(other_belt, builders.user("rep", team_=other_team), "Elsewhere Co.")
    asked = {
        "cups": promotions.request_change(rep, cups, "active", "junior", "All done", NOW),
        "pans": promotions.request_change(
            second_rep, pans, "active", "junior", "Done too", NOW - timedelta(days=3)
        ),
        "hidden": promotions.request_change(
            rep, hidden, "active", "junior", "Not yours", NOW - timedelta(days=9)
        ),
    }
    manager = builders.user("manager", leads=[team])
    db_session.commit()
    return {
        "manager": manager,
        "other_manager": builders.user("manager", leads=[other_team]),
        "rep": rep,
        "second_rep": second_rep,
        "belt": belt,
        "second_belt": second_belt,
        "other_belt": other_belt,
        "cups_factory": cups,
        "pans_factory": pans,
        **asked,
    }


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def card_of(page: str, change: StageChange) -> str:
    """The markup of one card of the queue."""
    match = re.search(
        rf'<li class="card decision[^"]*" id="change-{change.id}">.*?\n</li>', page, re.S
    )
    assert match, f"no card for request {change.id}"
    return match.group(0)


def cards_shown(page: str) -> list[int]:
    return [
        int(found)
        for found in re.findall(r'<li class="card decision[^"]*" id="change-(\d+)"', page)
    ]


def reopen_a_task(factory) -> None:
    """The factory no longer qualifies: one of its done tasks is open again."""
    task = db.session.scalars(select(Task).where(Task.factory_id == factory.id)).first()
    task.status = "open"


def post(client, path: str, **form):
    token = csrf_token(client, "/account/")
    return client.post(path, data={"csrf_token": token, **form})


# --- one card's form ---------------------------------------------------------------------------


def test_a_note_without_a_choice_stays_on_its_own_card(client, world):
    sign_in(client, world["manager"].email)
    response = post(
        client, f"/pipeline/requests/{world['pans'].id}/decide", note="照片不清楚，请重拍"
    )
    assert response.status_code == 422
    page = text_of(response)
    mine, other = card_of(page, world["pans"]), card_of(page, world["cups"])
    assert "照片不清楚，请重拍" in mine and "Choose approve or refuse." in mine
    assert "autofocus" in mine and "decision-failed" in mine
    # Every other card is drawn from its own record: no note, no choice, no error.
    assert "照片不清楚" not in other and "checked" not in other and "error" not in other
    assert page.count("照片不清楚，请重拍") == 1
    # The form posts back to its own card, so the browser lands on it.
    assert f'#change-{world["pans"].id}"' in mine


def test_each_card_has_its_own_field_ids(client, world):
    sign_in(client, world["manager"].email)
    page = text_of(client.get("/pipeline/requests"))
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    assert f'id="note-{world["cups"].id}"' in page
    labels = re.findall(r' for="([^"]+)"', page)
    assert len(labels) == len(set(labels)) and f"note-{world['cups'].id}" in labels


# --- the override from the card ----------------------------------------------------------------


def test_an_ineligible_request_is_approved_as_an_override_from_its_card(client, world, db_session):
    reopen_a_task(world["pans_factory"])  # the factory no longer qualifies: the request still waits
    db_session.commit()
    sign_in(client, world["manager"].email)
    url = f"/pipeline/requests/{world['pans'].id}/decide"
    assert "Override: approve although" in card_of(
        text_of(client.get("/pipeline/requests")), world["pans"]
    )
    refused = post(client, url, decision="approve")
    assert refused.status_code == 422
    assert "tick override and give the reason" in card_of(text_of(refused), world["pans"])
    no_reason = post(client, url, decision="approve", override="y")
    assert "An override needs a reason." in card_of(text_of(no_reason), world["pans"])
    response = post(client, url, decision="approve", override="y", note="Shop checked on site")
    assert response.status_code == 303
    change = world["pans"]
    db_session.refresh(change)
    db_session.refresh(world["pans_factory"])
    assert world["pans_factory"].stage == "junior"
    assert change.decision == "approved" and change.is_override
    assert change.decision_note == "Shop checked on site"


def test_the_api_approves_an_ineligible_request_as_an_override_naming_the_field(
    client, world, db_session
):
    """The same rule as the card's (promotions.decide): no dead end for an integrator either."""
    reopen_a_task(world["pans_factory"])
    token = api_tokens.create(world["manager"], "desk", None).secret
    db_session.commit()
    path = f"/api/v1/stage-changes/{world['pans'].id}/decision"
    headers = {"Authorization": f"Bearer {token}"}
    refused = client.post(path, headers=headers, json={"approve": True})
    assert refused.status_code == 422
    assert "override" in refused.get_json()["error"]["fields"]
    no_reason = client.post(path, headers=headers, json={"approve": True, "override": True})
    assert no_reason.status_code == 422 and "note" in no_reason.get_json()["error"]["fields"]
    db_session.refresh(world["pans"])
    assert world["pans"].decision == "pending"
    wrong_type = client.post(path, headers=headers, json={"approve": True, "override": "yes"})
    assert wrong_type.status_code == 422 and "override" in wrong_type.get_json()["error"]["fields"]
    approved = client.post(
        path, headers=headers, json={"approve": True, "override": True, "note": "Seen on site"}
    )
    assert approved.status_code == 200 and approved.get_json()["decision"] == "approved"
    db_session.refresh(world["pans"])
    db_session.refresh(world["pans_factory"])
    assert world["pans"].is_override and world["pans_factory"].stage == "junior"


# --- pages, filters and order ------------------------------------------------------------------


def test_the_queue_comes_in_pages_of_25_oldest_first(client, world, db_session):
    for n in range(30):
        factory = builders.factory(world["belt"], owner=world["rep"], stage="junior")
        promotions.request_change(
            world["rep"], factory, "paused", None, f"Holiday {n}", NOW - timedelta(days=20, hours=n)
        )
    db_session.commit()
    sign_in(client, world["manager"].email)
    first = text_of(client.get("/pipeline/requests"))
    assert len(cards_shown(first)) == 25 and "32 requests wait." in first
    assert "Holiday 29" in first  # waited longest: first
    assert "waiting 21 days" in first and "waiting 0 days" not in first
    assert 'href="/pipeline/requests?page=2"' in first
    second = text_of(client.get("/pipeline/requests?page=2"))
    assert cards_shown(second)[-1] == world["cups"].id  # the newest is last
    assert len(cards_shown(second)) == 7
    beyond = client.get("/pipeline/requests?page=99")
    assert beyond.status_code == 200 and len(cards_shown(text_of(beyond))) == 7


def test_filters_narrow_the_queue_and_stay_in_the_url(client, world):
    sign_in(client, world["manager"].email)
    by_belt = text_of(client.get(f"/pipeline/requests?belt={world['second_belt'].id}"))
    assert cards_shown(by_belt) == [world["pans"].id]
    by_rep = text_of(client.get(f"/pipeline/requests?rep={world['rep'].id}"))
    assert cards_shown(by_rep) == [world["cups"].id]
    by_stage = text_of(client.get("/pipeline/requests?stage=junior"))
    assert cards_shown(by_stage) == [] and "No request matches these filters." in by_stage
    # Asked on or before a day (in the install's zone): the older request only.
    since = (NOW - timedelta(days=2)).date().isoformat()
    by_day = client.get(f"/pipeline/requests?since={since}&belt={world['second_belt'].id}")
    assert cards_shown(text_of(by_day)) == [world["pans"].id]
    # The card's form and the export keep the filters.
    assert f"/decide?belt={world['second_belt'].id}&amp;since={since}#change" in by_day.get_data(
        as_text=True
    )
    assert f"/pipeline/requests/export?belt={world['second_belt'].id}&amp;since={since}" in (
        by_day.get_data(as_text=True)
    )


def test_the_order_waiting_longest_by_name_or_by_stage(client, world, db_session):
    zhuji = builders.factory(world["belt"], owner=world["rep"], stage="junior", name="Zhuji Socks")
    paused = promotions.request_change(
        world["rep"], zhuji, "paused", None, "Holiday", NOW - timedelta(days=10)
    )
    db_session.commit()
    sign_in(client, world["manager"].email)
    cups, pans = world["cups"].id, world["pans"].id
    assert cards_shown(text_of(client.get("/pipeline/requests"))) == [paused.id, pans, cups]
    named = text_of(client.get("/pipeline/requests?order=name"))
    assert cards_shown(named) == [pans, cups, paused.id]
    staged = text_of(client.get("/pipeline/requests?order=stage"))
    assert cards_shown(staged) == [pans, cups, paused.id]  # elementary before junior high
    assert 'href="/pipeline/requests/export?order=stage"' in staged


def test_filters_never_reach_beyond_the_managers_scope(client, world):
    sign_in(client, world["manager"].email)
    page = text_of(client.get(f"/pipeline/requests?belt={world['other_belt'].id}"))
    assert cards_shown(page) == [] and "Elsewhere Co." not in page
    assert "Elsewhere Co." not in text_of(client.get("/pipeline/requests"))
    export = client.get(f"/pipeline/requests/export?format=csv&belt={world['other_belt'].id}")
    assert "Elsewhere Co." not in export.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    ["belt=abc", "rep=-1", "stage=graduate", "order=random", "page=0", "belt=99999999999999999999"],
)
def test_a_filter_that_means_nothing_is_ignored(client, world, query):
    sign_in(client, world["manager"].email)
    response = client.get(f"/pipeline/requests?{query}")
    assert response.status_code == 200
    page = text_of(response)
    assert len(cards_shown(page)) == 2 and "2 requests wait." in page


def test_a_bad_day_is_refused_by_its_field(client, world):
    sign_in(client, world["manager"].email)
    response = client.get("/pipeline/requests?since=2026-13-45")
    assert response.status_code == 422
    page = text_of(response)
    assert re.search(r'<p class="error" id="since-error">[^<]+</p>', page)
    assert len(cards_shown(page)) == 2


def test_the_export_keeps_the_queues_filters(client, world):
    sign_in(client, world["manager"].email)
    everything = client.get("/pipeline/requests/export?format=csv").get_data(as_text=True)
    assert "Yongkang Cups Co." in everything and "Anji Pans Ltd." in everything
    one_belt = client.get(f"/pipeline/requests/export?format=csv&belt={world['belt'].id}")
    text = one_belt.get_data(as_text=True)
    assert "Yongkang Cups Co." in text and "Anji Pans Ltd." not in text


# --- what "Eligible" rests on ------------------------------------------------------------------


def test_a_card_links_its_factory_and_shows_the_checklist_figures_and_evidence(
    client, world, db_session
):
    factory = world["cups_factory"]
    builders.task(
        factory,
        "Answers within 3 minutes",
        status="open",
        kind="measured",
        metric_code="response_3min_rate",
        comparison="at_least",
        target_value=Decimal(80),
    )
    db.session.add(
        MetricSnapshot(
            factory=factory, metric_code="response_3min_rate", month=date(2026, 10, 1), value=86
        )
    )
    builders.task(factory, "Shop photos", status="done", evidence_note="Six photos of the shop")
    db_session.commit()
    sign_in(client, world["manager"].email)
    card = card_of(text_of(client.get("/pipeline/requests")), world["cups"])
    assert f'<a href="/factories/{factory.id}">Yongkang Cups Co.</a>' in card
    assert "Eligible: every required item is done and every target met." in card
    assert "Answers within 3 minutes" in card and "86 %" in card and "Oct 2026" in card
    assert "at least 80 %" in card and "Met" in card
    assert "Six photos of the shop" in card and "Evidence from the factory" in card
    assert "Required" in card


# --- bulk approval -----------------------------------------------------------------------------


def test_nothing_is_ticked_for_bulk_approval_by_default(client, world):
    sign_in(client, world["manager"].email)
    page = text_of(client.get("/pipeline/requests"))
    boxes = re.findall(r'<input type="checkbox" name="change_ids"[^>]*>', page)
    assert len(boxes) == 2 and not any("checked" in box for box in boxes)


def test_the_confirmation_names_the_factories_and_leaves_out_the_others(client, world, db_session):
    reopen_a_task(world["pans_factory"])
    db_session.commit()
    sign_in(client, world["manager"].email)
    ids = [world["cups"].id, world["pans"].id, world["hidden"].id]
    page = text_of(post(client, "/pipeline/requests/approve", change_ids=ids))
    ready, _sep, rest = page.partition("Not in this approval")
    assert "Yongkang Cups Co." in ready and "Anji Pans Ltd." in rest
    assert "Elsewhere Co." not in page  # another manager's: as if absent
    assert f'name="change_ids" value="{world["cups"].id}"' in page
    assert f'name="change_ids" value="{world["pans"].id}"' not in page
    db_session.refresh(world["cups_factory"])
    assert world["cups_factory"].stage == "elementary"


def test_a_confirmation_with_nothing_to_approve_is_a_422(client, world, db_session):
    reopen_a_task(world["pans_factory"])
    db_session.commit()
    sign_in(client, world["manager"].email)
    response = post(client, "/pipeline/requests/approve", change_ids=[world["pans"].id])
    assert response.status_code == 422
    assert "None of the ticked requests can be approved together now." in text_of(response)
    assert "Yes, approve" not in text_of(response)


def test_a_pause_request_offers_no_override(client, world, db_session):
    factory = builders.factory(world["belt"], owner=world["rep"], stage="junior")
    paused = promotions.request_change(world["rep"], factory, "paused", None, "Holiday", NOW)
    db_session.commit()
    sign_in(client, world["manager"].email)
    card = card_of(text_of(client.get("/pipeline/requests")), paused)
    assert "Override: approve although" not in card
    assert f'id="decision-{paused.id}-0"' in card  # approving a pause needs no more


def test_the_queue_asks_the_database_as_often_for_25_cards_as_for_3(client, world, db_session):
    sign_in(client, world["manager"].email)
    client.get("/pipeline/requests")  # the caches of the first request are warm now
    with counted_statements() as few:
        client.get("/pipeline/requests")
    for n in range(22):
        factory = eligible_factory(world["belt"], world["rep"], f"Factory {n:02d}")
        promotions.request_change(world["rep"], factory, "active", "junior", "", NOW)
    db_session.commit()
    with counted_statements() as many:
        page = text_of(client.get("/pipeline/requests"))
    assert len(cards_shown(page)) == 24 and "24 requests wait." in page
    assert len(many) == len(few)
