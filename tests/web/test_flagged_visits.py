"""The review of flagged visits (issue 22, "A review of flagged visits"): a manager's queue of
their teams' off-site visits, accepted with a note or disputed; the rep told, answering; the
manager closing it; the outcome on the visit for staff and nothing of it for the factory."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEntry, Notification, VisitReview
from tests import builders
from tests.web.helpers import csrf_token, sign_in

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt, other_belt = builders.belt(team), builders.belt(other_team)
    rep = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, stage="elementary", name="Yongkang Cups Co.")
    far = builders.visit(
        factory, rep, checked_in_at=NOW - timedelta(days=2), off_site=True, distance_m=900
    )
    nowhere = builders.visit(factory, rep, checked_in_at=NOW - timedelta(days=1), off_site=True)
    on_site = builders.visit(factory, rep, checked_in_at=NOW - timedelta(hours=5), distance_m=20)
    other_rep = builders.user("rep", team_=other_team)
    hidden = builders.visit(
        builders.factory(other_belt, owner=other_rep, name="Elsewhere Co."),
        other_rep,
        off_site=True,
    )
    world = {
        "rep": rep,
        "factory": factory,
        "far": far,
        "nowhere": nowhere,
        "on_site": on_site,
        "hidden": hidden,
        "manager": builders.user("manager", leads=[team]),
        "other_manager": builders.user("manager", leads=[other_team]),
        "portal": builders.user("factory", factory=factory),
    }
    db_session.commit()
    return world


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def cards(page: str) -> list[int]:
    return [
        int(found) for found in re.findall(r'<li class="card decision[^"]*" id="visit-(\d+)"', page)
    ]


def post(client, path: str, **form):
    return client.post(path, data={"csrf_token": csrf_token(client, "/account/"), **form})


def switch(client, user) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    sign_in(client, user.email)


def review_of(visit) -> VisitReview | None:
    db.session.expire_all()
    return db.session.scalar(select(VisitReview).where(VisitReview.visit_id == visit.id))


def test_the_queue_lists_the_team_s_off_site_visits_longest_waiting_first(client, world):
    sign_in(client, world["manager"].email)
    page = text_of(client.get("/pipeline/flagged"))
    assert cards(page) == [world["far"].id, world["nowhere"].id]
    assert "900 m away" in page and "no location" in page
    assert "Elsewhere Co." not in page
    switch(client, world["rep"])
    assert client.get("/pipeline/flagged").status_code == 403


def test_accepted_with_a_note_it_stands_on_the_visit_for_staff_only(client, world):
    sign_in(client, world["manager"].email)
    url = f"/pipeline/flagged/{world['far'].id}/review"
    response = post(client, url, outcome="accept", note="GPS drift in the valley")
    assert response.status_code == 303
    review = review_of(world["far"])
    assert (review.state, review.note, review.reviewer_id) == (
        "accepted",
        "GPS drift in the valley",
        world["manager"].id,
    )
    page = text_of(client.get("/pipeline/flagged"))
    assert cards(page) == [world["nowhere"].id]
    assert cards(text_of(client.get("/pipeline/flagged?state=done"))) == [world["far"].id]
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "accept_flag"))
    factory_page = text_of(client.get(f"/factories/{world['factory'].id}"))
    assert "GPS drift in the valley" in factory_page and "Accepted" in factory_page
    switch(client, world["portal"])
    assert "GPS drift" not in text_of(client.get("/portal/"))


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"outcome": "accept", "note": ""}, "Say why the visit is accepted."),
        ({"outcome": "dispute", "note": "  "}, "Say what the rep should explain."),
        ({"note": "No choice"}, "Choose accept or dispute."),
        ({"outcome": "maybe", "note": "x"}, "Not a valid choice"),
        ({"outcome": "accept", "note": "x" * 1001}, "1000"),
    ],
    ids=["accept without a note", "dispute without a note", "no outcome", "unknown", "too long"],
)
def test_a_bad_review_is_refused_on_its_own_card_and_changes_nothing(client, world, form, message):
    sign_in(client, world["manager"].email)
    response = post(client, f"/pipeline/flagged/{world['nowhere'].id}/review", **form)
    assert response.status_code == 422
    page = text_of(response)
    card = page[page.index(f'id="visit-{world["nowhere"].id}"') :]
    card = card[: card.index("</li>")]
    assert message.replace("1000", "1,000") in card or message in card
    other = page[page.index(f'id="visit-{world["far"].id}"') :]
    assert "Not sent" not in other[: other.index("</li>")]
    assert review_of(world["nowhere"]) is None


def test_disputed_the_rep_is_told_answers_and_the_manager_closes_it(client, world):
    sign_in(client, world["manager"].email)
    url = f"/pipeline/flagged/{world['nowhere'].id}/review"
    assert (
        post(client, url, outcome="dispute", note="No location: where were you?").status_code == 303
    )
    told = db.session.scalars(
        select(Notification).where(Notification.user_id == world["rep"].id)
    ).one()
    assert told.kind == "visit_disputed" and told.link == f"/visits/{world['nowhere'].id}/answer"
    switch(client, world["rep"])
    assert "No location: where were you?" in text_of(client.get(told.link))
    assert f"/visits/{world['nowhere'].id}/answer" in text_of(
        client.get(f"/factories/{world['factory'].id}")
    )
    empty = post(client, told.link, answer="")
    assert empty.status_code == 422 and "Write your answer" in text_of(empty)
    assert post(client, told.link, answer="Inside the workshop, no signal.").status_code == 303
    review = review_of(world["nowhere"])
    assert review.state == "answered" and review.answer == "Inside the workshop, no signal."
    assert post(client, told.link, answer="Again").status_code == 409  # answered once
    answered = db.session.scalars(
        select(Notification).where(Notification.user_id == world["manager"].id)
    ).one()
    assert answered.kind == "visit_answered"
    switch(client, world["manager"])
    assert cards(text_of(client.get("/pipeline/flagged?state=to_close"))) == [world["nowhere"].id]
    closed = post(client, f"/pipeline/flagged/{world['nowhere'].id}/close", note="Understood.")
    assert closed.status_code == 303
    review = review_of(world["nowhere"])
    assert review.state == "closed" and review.closing_note == "Understood."
    assert review.closed_by_id == world["manager"].id


def test_what_cannot_be_reviewed_is_refused_and_changes_nothing(client, world):
    sign_in(client, world["manager"].email)
    on_site = post(
        client, f"/pipeline/flagged/{world['on_site'].id}/review", outcome="accept", note="x"
    )
    assert on_site.status_code == 409 and review_of(world["on_site"]) is None
    elsewhere = post(
        client, f"/pipeline/flagged/{world['hidden'].id}/review", outcome="accept", note="x"
    )
    assert elsewhere.status_code == 404 and review_of(world["hidden"]) is None
    url = f"/pipeline/flagged/{world['far'].id}/review"
    assert post(client, url, outcome="accept", note="Fine").status_code == 303
    assert post(client, url, outcome="dispute", note="Changed my mind").status_code == 409
    assert review_of(world["far"]).state == "accepted"
    assert post(client, f"/pipeline/flagged/{world['far'].id}/close").status_code == 409
    switch(client, world["rep"])
    # No dispute waits for the rep on an accepted visit.
    assert client.get(f"/visits/{world['far'].id}/answer").status_code == 409


def test_the_team_page_counts_each_rep_s_flagged_accepted_and_disputed_visits(client, world):
    sign_in(client, world["manager"].email)
    post(client, f"/pipeline/flagged/{world['far'].id}/review", outcome="accept", note="Fine")
    post(client, f"/pipeline/flagged/{world['nowhere'].id}/review", outcome="dispute", note="Why?")
    page = text_of(client.get("/pipeline/team?start=2026-11-01&end=2026-11-24"))
    row = page[page.index(f'href="/pipeline/team/{world["rep"].id}"') :]
    row = row[: row.index("</tr>")]
    assert '<span class="team-warn">2</span>' in row and "1 accepted · 1 disputed" in row
    exported = client.get("/pipeline/team/export?format=csv&start=2026-11-01&end=2026-11-24")
    lines = exported.get_data(as_text=True).splitlines()
    header = lines[0].split(",")
    mine = next(line.split(",") for line in lines if world["rep"].name in line)
    flagged_at = header.index("Flagged visits")
    assert mine[flagged_at : flagged_at + 3] == ["2", "1", "1"]
