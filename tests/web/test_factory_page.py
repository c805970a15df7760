"""The staff's factory page: scope, eligibility explained, entering figures, moving stages."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from flask_wtf import FlaskForm
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from crm.extensions import db
from crm.models import (
    Contact,
    MetricSnapshot,
    StageChange,
    StageDefinition,
    Task,
    Visit,
    VisitReview,
)
from crm.services.growth import stages
from tests import builders
from tests.web.helpers import csrf_token, sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
OCTOBER = date(2026, 10, 1)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, stage="junior", name="Yongkang Hengda Hardware")
    stages.create_stage_tasks(factory, "junior", NOW)
    factory.contacts.append(Contact(name="Wang Li", role="Owner", phone="138 1234 5678"))
    factory.contacts[0].phone_digits = "13812345678"
    people = {
        "rep": rep,
        "rep_same_team": builders.user("rep", team_=team),
        "rep_other_team": builders.user("rep", team_=other_team),
        "manager": builders.user("manager", leads=[team]),
        "manager_other_belt": builders.user("manager", leads=[other_team]),
        "factory_user": builders.user("factory", factory=factory),
    }
    db_session.commit()
    return {"factory": factory, **people}


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def url(factory) -> str:
    return f"/factories/{factory.id}"


def tasks_of(factory, stage: str | None = None) -> list[Task]:
    return db.session.scalars(
        select(Task).where(Task.factory_id == factory.id, Task.stage == (stage or factory.stage))
    ).all()


def make_eligible(factory) -> None:
    for task in tasks_of(factory):
        if task.kind == "measured":
            value = task.target_value + 5 if task.comparison == "at_least" else 0
            db.session.add(
                MetricSnapshot(
                    factory=factory, metric_code=task.metric_code, month=OCTOBER, value=value
                )
            )
        else:
            task.status = "done"
    db.session.commit()


def post_form(client, factory, path: str, data: dict):
    token = csrf_token(client, url(factory))
    return client.post(url(factory) + path, data={"csrf_token": token, **data})


def field_error(response, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', text_of(response))
    return match.group(1) if match else ""


def snapshot_count() -> int:
    return db.session.scalar(select(func.count()).select_from(MetricSnapshot)) or 0


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    """The SELECT statements run inside the block."""
    statements: list[str] = []

    def record(connection, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


# --- what the page shows, and to whom ---------------------------------------------------------


def test_rep_sees_own_factory_with_its_eligibility_explained(client, world):
    factory = world["factory"]
    db.session.add(
        MetricSnapshot(factory=factory, metric_code="response_3min_rate", month=OCTOBER, value=72)
    )
    next(task for task in tasks_of(factory) if task.kind == "video_shoot").status = "done"
    db.session.commit()
    sign_in(client, world["rep"].email)
    response = client.get(url(factory))
    page = text_of(response)
    assert response.status_code == 200
    assert "Yongkang Hengda Hardware" in page and "Junior high" in page
    assert "30 days in stage" in page
    assert "1 of 4 required done" in page
    assert "3 of 4 left:" in page
    assert "Inquiries answered within 3 minutes 72 %, at least 80 %" in page
    assert "Orders shipped within 72 hours: no figures yet" in page
    assert "Joins a Merchant Day promotion: not done yet" in page
    assert "8 % short" in page  # the checklist says by how much the target is missed
    assert 'href="tel:13812345678"' in page
    assert "Request promotion" not in page  # not eligible yet


@pytest.mark.parametrize(
    "position", ["rep_same_team", "rep_other_team", "manager_other_belt", "factory_user"]
)
def test_people_outside_the_factorys_scope_get_404(client, world, position):
    sign_in(client, world[position].email)
    assert client.get(url(world["factory"])).status_code == 404


def test_the_manager_over_the_belt_sees_the_page_with_the_promote_form(client, world):
    sign_in(client, world["manager"].email)
    page = text_of(client.get(url(world["factory"])))
    assert "Promote to High school" in page
    assert "Override: promote it although items are left" in page
    assert "Change status or stage" in page


def test_history_merges_visits_and_stage_changes_newest_first(client, world, db_session):
    factory, rep = world["factory"], world["rep"]
    db_session.add(
        StageChange(
            factory_id=factory.id,
            from_status="active",
            from_stage="elementary",
            to_status="active",
            to_stage="junior",
            requested_by_id=rep.id,
            requested_at=NOW - timedelta(days=30),
            decision="approved",
            decided_by_id=world["manager"].id,
            decided_at=NOW - timedelta(days=30),
            reason="All five items done",
        )
    )
    db_session.add(
        Visit(
            factory_id=factory.id,
            rep_id=rep.id,
            purpose="training",
            checked_in_at=NOW - timedelta(days=2),
            summary="Showed the team how to answer inquiries from the phone.",
            client_key="visit-1",
            fingerprint="0" * 64,
        )
    )
    db_session.commit()
    sign_in(client, rep.email)
    page = text_of(client.get(url(factory)))
    history = page[page.index('id="history"') :]
    assert history.index("Visit: Training") < history.index("Elementary → Junior high")
    assert "Why: All five items done" in history
    assert "Showed the team how to answer inquiries" in page


def test_the_pages_queries_do_not_grow_with_its_rows(client, world, db_session):
    factory, rep = world["factory"], world["rep"]
    sign_in(client, rep.email)
    builders.visit(factory, rep)  # with one visit, its photos are loaded in one more query
    db_session.commit()
    page = url(factory)
    client.get(page)  # the first request after a change loads what the process keeps (crm.cache)
    with counted_statements() as before:
        client.get(page)
    for n in range(6):
        db_session.add(
            Visit(
                factory_id=factory.id,
                rep_id=rep.id,
                purpose="follow_up",
                checked_in_at=NOW - timedelta(days=n + 1),
                client_key=f"visit-{n}",
                fingerprint="0" * 64,
            )
        )
        db_session.add(
            StageChange(
                factory_id=factory.id,
                from_status="active",
                from_stage="junior",
                to_status="active",
                to_stage="senior",
                requested_by_id=rep.id,
                requested_at=NOW - timedelta(days=n + 1),
                decision="refused",
                decided_by_id=world["manager"].id,
                decided_at=NOW - timedelta(days=n),
            )
        )
        factory.contacts.append(Contact(name=f"Contact {n}", phone_digits=f"1380000000{n}"))
    db_session.commit()
    with counted_statements() as after:
        client.get(page)
    assert len(after) == len(before), after


def test_the_page_reads_its_factory_once_with_its_belt_owner_and_contacts(client, world):
    """The scoped read loads what the page shows of the factory (issue 25): no second read."""
    sign_in(client, world["rep"].email)
    page = url(world["factory"])
    client.get(page)
    with counted_statements() as statements:
        assert client.get(page).status_code == 200
    factories = [s for s in statements if re.match(r"\s*SELECT factories\.id", s)]
    assert len(factories) == 1, factories
    assert "JOIN belts" in factories[0] and "JOIN users" in factories[0]


def test_the_page_reads_voice_notes_reviews_and_contacts_with_their_visits_and_factory(
    client, world, db_session
):
    """A visit's voice note and review (and the review's reviewer) come with the visits, the
    factory's contacts with the factory: no statement of their own (issue 25)."""
    factory, rep, manager = world["factory"], world["rep"], world["manager"]
    visit = builders.visit(factory, rep)
    builders.visit_voice_note(visit)
    db_session.add(
        VisitReview(
            visit=visit, state="accepted", reviewer=manager, reviewed_at=NOW, note="Seen it"
        )
    )
    builders.contact(factory, name="王经理")
    builders.contact(factory, name="李会计")
    db_session.commit()
    sign_in(client, rep.email)
    client.get(url(factory))
    with counted_statements() as statements:
        page = text_of(client.get(url(factory)))
    alone = re.compile(
        r"\s*SELECT .*?\sFROM\s+(contacts|visit_voice_notes|visit_reviews|users)\b", re.S
    )
    apart = [s for s in statements if alone.match(s) and not re.search(r"\bJOIN\b", s)]
    assert apart == [], apart
    assert "Voice note, 0:0" in page and "Seen it" in page and manager.name in page
    assert "王经理" in page and "李会计" in page


@pytest.mark.parametrize("stage", ["junior", "university", None])
def test_the_checklist_reads_its_stages_tasks_and_those_of_no_stage_at_once(
    app, client, world, db_session, stage
):
    """A task added while the factory was a prospect (of no stage) shows on its checklist and
    its portal beside the stage's, read in the same statement (issue 25), as a prospect's do."""
    factory = world["factory"]
    factory.stage = stage
    factory.status = "active" if stage else "prospect"
    builders.task(factory, title="Stage item", required=False)
    builders.task(factory, title="Asked before signing", required=False).stage = None
    db_session.commit()
    sign_in(client, world["rep"].email)
    portal = app.test_client()
    sign_in(portal, world["factory_user"].email)
    for who, page in ((client, url(factory)), (portal, "/portal/")):
        who.get(page)
        with counted_statements() as statements:
            text = text_of(who.get(page))
        assert "Asked before signing" in text and "Stage item" in text
        tasks = [s for s in statements if re.match(r"\s*SELECT tasks\.id\b", s)]
        assert len(tasks) == 1, tasks


# --- entering figures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "value", "field", "words"),
    [
        ("2026-10", "abc", "value", "Enter a number, such as 72.5."),
        ("2026-10", "120", "value", "Enter a value from 0 to 100."),
        ("2026-12", "80", "month", "Figures can be entered for this month or earlier."),
        ("", "80", "month", "Choose the month the figure is for."),
    ],
)
def test_bad_figures_come_back_by_the_field_and_store_nothing(
    client, world, month, value, field, words
):
    sign_in(client, world["rep"].email)
    response = post_form(
        client,
        world["factory"],
        "/snapshots",
        {"metric": "response_3min_rate", "month": month, "value": value},
    )
    assert response.status_code == 422
    assert words in field_error(response, field)
    assert snapshot_count() == 0


def test_a_figure_entered_is_stored_and_judged_on_the_page(client, world):
    factory = world["factory"]
    sign_in(client, world["rep"].email)
    response = post_form(
        client,
        factory,
        "/snapshots",
        {"metric": "response_3min_rate", "month": "2026-10", "value": "85,5"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"{url(factory)}#figures")
    snapshot = db.session.scalar(select(MetricSnapshot))
    assert snapshot.month == OCTOBER and float(snapshot.value) == 85.5
    page = text_of(client.get(url(factory)))
    assert "Figure saved: Inquiries answered within 3 minutes for Oct 2026." in page
    assert "Inquiries answered within 3 minutes 85.5 %" not in page  # met: no longer blocking
    assert "<svg" in page and "style=" not in page


# --- moving the stage -------------------------------------------------------------------------


def request_promotion(client, factory, note: str = "Everything is done"):
    return post_form(
        client,
        factory,
        "/stage-change",
        {
            "form": "request",
            "request-to_status": "active",
            "request-to_stage": "senior",
            "request-reason": note,
        },
    )


def test_rep_requests_promotion_of_an_eligible_factory_and_sees_it_pending(client, world):
    factory = world["factory"]
    make_eligible(factory)
    sign_in(client, world["rep"].email)
    assert "Request promotion to High school" in text_of(client.get(url(factory)))
    response = request_promotion(client, factory)
    assert response.status_code == 303
    page = text_of(client.get(url(factory)))
    assert "Promotion to High school requested." in page
    assert "Waiting for a manager's decision" in page
    assert "Request promotion to High school" not in page
    change = db.session.scalar(select(StageChange))
    assert change.decision == "pending" and change.reason == "Everything is done"
    db.session.refresh(factory)
    assert factory.stage == "junior"


def test_a_second_request_while_one_waits_is_a_conflict(client, world):
    factory = world["factory"]
    make_eligible(factory)
    sign_in(client, world["rep"].email)
    request_promotion(client, factory)
    response = request_promotion(client, factory)
    assert response.status_code == 409
    assert "A change for this factory already waits for a decision." in text_of(response)
    assert db.session.scalar(select(func.count()).select_from(StageChange)) == 1


def test_a_rep_cannot_request_promotion_of_an_ineligible_factory(client, world):
    sign_in(client, world["rep"].email)
    response = request_promotion(client, world["factory"])
    assert response.status_code == 422
    assert "The factory is not eligible yet" in text_of(response)
    assert db.session.scalar(select(func.count()).select_from(StageChange)) == 0


def test_a_rep_posting_the_managers_form_is_refused(client, world):
    sign_in(client, world["rep"].email)
    response = post_form(
        client,
        world["factory"],
        "/stage-change",
        {
            "form": "change",
            "change-to_status": "active",
            "change-to_stage": "senior",
            "change-override": "y",
            "change-reason": "I say so",
        },
    )
    assert response.status_code == 403
    assert world["factory"].stage == "junior"


def promote(client, factory, **fields):
    data = {"form": "promote", "promote-to_status": "active", "promote-to_stage": "senior"}
    data.update({f"promote-{name}": value for name, value in fields.items()})
    return post_form(client, factory, "/stage-change", data)


def test_manager_promotes_an_ineligible_factory_only_with_an_override_and_its_reason(client, world):
    factory = world["factory"]
    sign_in(client, world["manager"].email)
    refused = promote(client, factory)
    assert refused.status_code == 422
    assert "This move is an override: tick override and give the reason." in field_error(
        refused, "promote-override"
    )
    no_reason = promote(client, factory, override="y")
    assert no_reason.status_code == 422
    assert "An override needs a reason." in field_error(no_reason, "promote-reason")
    assert db.session.scalar(select(func.count()).select_from(StageChange)) == 0

    moved = promote(client, factory, override="y", reason="Key account, agreed with the head")
    assert moved.status_code == 303
    db.session.refresh(factory)
    assert factory.stage == "senior"
    assert len(tasks_of(factory, "senior")) == 7
    page = text_of(client.get(url(factory)))
    assert "Moved to High school." in page
    history = page[page.index('id="history"') :]
    assert "Junior high → High school" in history and "Override" in history
    assert "Why: Key account, agreed with the head" in history


def test_manager_pauses_a_factory_from_the_change_form(client, world):
    factory = world["factory"]
    sign_in(client, world["manager"].email)
    response = post_form(
        client,
        factory,
        "/stage-change",
        {"form": "change", "change-to_status": "paused", "change-reason": "Spring festival"},
    )
    assert response.status_code == 303
    db.session.refresh(factory)
    assert factory.status == "paused" and factory.stage == "junior"
    assert "No promotion now" in text_of(client.get(url(factory)))


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(client, world):
    factory = world["factory"]
    sign_in(client, world["rep"].email)
    response = client.post(
        url(factory) + "/snapshots",
        data={"metric": "response_3min_rate", "month": "2026-10", "value": "80"},
    )
    assert response.status_code == 400
    assert snapshot_count() == 0


def test_today_links_each_factory_to_its_page(client, world):
    factory, rep = world["factory"], world["rep"]
    builders.follow_up(factory, rep, NOW + timedelta(hours=2))
    db.session.commit()
    sign_in(client, rep.email)
    assert f'href="{url(factory)}"' in text_of(client.get("/today"))


def test_a_visit_whose_photos_and_voice_note_retention_deleted_says_so(client, world, empty_store):
    from crm.jobs import JOBS

    factory, rep = world["factory"], world["rep"]
    old = builders.visit(factory, rep, checked_in_at=NOW - timedelta(days=800), summary="Long ago")
    young = builders.visit(factory, rep, checked_in_at=NOW - timedelta(days=3), summary="Lately")
    for visit in (old, young):
        for record in (builders.visit_photo(visit), builders.visit_voice_note(visit)):
            record.created_at = visit.checked_in_at
    db.session.commit()
    for _counts in JOBS["retention"].run(db.session, NOW):
        db.session.commit()
    sign_in(client, rep.email)
    page = text_of(client.get(url(factory)))
    # Newest first: the young visit's row, then the old one's, to the section's end.
    young_at, old_at = page.index(f'id="visit-{young.id}"'), page.index(f'id="visit-{old.id}"')
    young_row, old_row = page[young_at:old_at], page[old_at : page.index("</section>", old_at)]
    note = "Photos and voice note deleted after the retention period, on Nov 25, 2026 10:00."
    assert note in old_row and "<img" not in old_row and "<audio" not in old_row
    assert note not in young_row and "<img" in young_row and "<audio" in young_row


# --- the blank forms, kept per process (issue 25) ---------------------------------------------

KEPT_FORMS = {
    "ContactForm",
    "ClosureForm",
    "SnapshotForm",
    "StageChangeForm",
    "PromoteForm",
    "PromotionRequestForm",
    "AdHocTaskForm",
}


def made_forms(monkeypatch) -> list[str]:
    """The names of the forms made from here on."""
    made: list[str] = []
    original = FlaskForm.__init__

    def counted(self, *args, **kwargs):
        made.append(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(FlaskForm, "__init__", counted)
    return made


def page_token(text: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', text).group(1)


def form_of(text: str, action: str) -> str:
    """The <form> element that posts to `action`, up to its end."""
    start = text.index(f'action="{action}"')
    return text[start : text.index("</form>", start)]


def second_factory(world, db_session):
    """Another factory of the rep's belt, at the same stage."""
    first = world["factory"]
    second = builders.factory(first.belt, owner=world["rep"], stage="junior", name="Wuyi Cup Works")
    stages.create_stage_tasks(second, "junior", NOW)
    db_session.commit()
    return {**world, "first": first, "second": second}


def test_a_factory_pages_blank_forms_are_made_once_a_process(app, world, db_session, monkeypatch):
    world = second_factory(world, db_session)
    client = app.test_client()
    sign_in(client, world["manager"].email)
    assert client.get(f"/factories/{world['factory'].id}").status_code == 200
    made = made_forms(monkeypatch)
    again = client.get(f"/factories/{world['second'].id}")
    assert again.status_code == 200
    text = again.get_data(as_text=True)
    # Each form is still on the page: contact, closure, figure, task, follow-up, stage moves.
    for action in ("contacts", "closures", "snapshots", "tasks", "follow-ups", "stage-change"):
        assert f"/factories/{world['second'].id}/{action}" in text
    assert KEPT_FORMS & set(made) == set()


def test_a_kept_form_carries_its_factorys_id_and_its_own_sessions_token(app, world, db_session):
    world = second_factory(world, db_session)
    rep, manager = app.test_client(), app.test_client()
    sign_in(rep, world["rep"].email)
    sign_in(manager, world["manager"].email)
    first = rep.get(f"/factories/{world['factory'].id}").get_data(as_text=True)
    second = manager.get(f"/factories/{world['second'].id}").get_data(as_text=True)
    for text, factory, other in ((first, "first", "second"), (second, "second", "first")):
        action = f"/factories/{world[factory].id}/contacts"
        form = form_of(text, action)
        assert f'value="{page_token(text)}"' in form
        assert f"/factories/{world[other].id}/" not in text
    assert page_token(first) != page_token(second)
    # The kept form posts as the page's own did.
    form = form_of(second, f"/factories/{world['second'].id}/contacts")
    name, token = re.search(r'name="([^"]*csrf_token)"[^>]*value="([^"]+)"', form).groups()
    saved = manager.post(
        f"/factories/{world['second'].id}/contacts",
        data={name: token, "contact-name": "Chen Jing", "contact-phone": "13812345678"},
    )
    assert saved.status_code in (302, 303), saved.get_data(as_text=True)[:500]
    assert "Chen Jing" in manager.get(f"/factories/{world['second'].id}").get_data(as_text=True)


def test_a_renamed_stage_shows_in_the_kept_forms_on_the_next_request(app, world, db_session):
    client = app.test_client()
    sign_in(client, world["manager"].email)
    path = f"/factories/{world['factory'].id}"
    before = html.unescape(client.get(path).get_data(as_text=True))
    senior = db_session.scalar(select(StageDefinition).where(StageDefinition.code == "senior"))
    # The promotion's button and the change form's choices both name the stage.
    assert f"Promote to {senior.name_en}" in before
    assert f">{senior.name_en}</option>" in before
    senior.name_en = "Upper school"
    db_session.commit()
    after = html.unescape(client.get(path).get_data(as_text=True))
    assert "Promote to Upper school" in after
    assert ">Upper school</option>" in after
