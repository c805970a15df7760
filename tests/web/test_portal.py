"""The factory portal: its growth, evidence handed in, visits shared, and nothing else."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from flask import template_rendered
from flask_babel import force_locale, gettext
from sqlalchemy import select

from crm import scope
from crm.extensions import db
from crm.models import AuditEntry, Invitation, MetricSnapshot, Notification, Task, User
from crm.services.accounts import auth
from crm.services.growth import stages
from tests import builders
from tests.statements import recorded
from tests.web.helpers import csrf_token

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SECRET = "INTERNAL-NOTE-7f3a"  # planted in internal notes: never in a factory user's answer


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    rep.phone = "13800001111"
    factory = builders.factory(belt, owner=rep, stage="junior", name="Yongkang Hengda Hardware")
    stages.create_stage_tasks(factory, "junior", NOW)
    other = builders.factory(belt, owner=rep, stage="junior", name="Another Works Ltd")
    stages.create_stage_tasks(other, "junior", NOW)
    builders.visit(
        factory, rep, summary="Shop photos retaken", notes=f"Owner hard to reach {SECRET}"
    )
    builders.visit(other, rep, summary="Elsewhere", notes=SECRET)
    builders.follow_up(factory, rep, NOW + timedelta(days=2), reason=f"Push {SECRET}")
    db_session.add(
        MetricSnapshot(
            factory=factory,
            metric_code="response_3min_rate",
            month=date(2026, 10, 1),
            value=Decimal("72"),
        )
    )
    factory_user = builders.user("factory", factory=factory)
    other_user = builders.user("factory", factory=other)
    db_session.commit()
    return {
        "factory": factory,
        "other": other,
        "rep": rep,
        "user": factory_user,
        "other_user": other_user,
    }


def signed_in(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    db.session.commit()
    return app.test_client(user=user)


def open_task(factory) -> Task:
    return db.session.scalars(
        select(Task)
        .where(Task.factory_id == factory.id, Task.kind != "measured", Task.status == "open")
        .order_by(Task.id)
    ).first()


def hand_in(client, task, **fields):
    token = csrf_token(client, "/portal/")
    data = {f"task-{task.id}-{name}": value for name, value in fields.items()}
    return client.post(
        f"/portal/tasks/{task.id}/evidence",
        data={"csrf_token": token, **data},
        content_type="multipart/form-data",
    )


def test_my_growth_shows_the_year_the_checklist_and_the_figure_against_its_target(app, world):
    page = html.unescape(signed_in(app, world["user"]).get("/portal/").get_data(True))
    assert "Year 2 of 4: Junior" in page
    assert "To reach High school" in page
    assert "72 % of" in page
    assert "Shop photos retaken" in page and "13800001111" in page


def test_the_portal_reads_its_rep_with_its_factory(app, world):
    """The page names the factory's rep: read in the factory's statement, not apart (issue 25)."""
    client = signed_in(app, world["user"])
    client.get("/portal/")
    with recorded() as statements:
        page = html.unescape(client.get("/portal/").get_data(True))
    assert world["rep"].name in page
    users = [s for s in statements if re.match(r"\s*SELECT users\.id\b", s.sql)]
    assert users == [], users


def test_a_figures_chart_is_drawn_once_a_process_until_a_figure_changes(app, world):
    """The six months' chart is kept per process for its values and language (issue 25): a
    second visit draws none; a new figure draws it again, with the new value."""
    drawn: list[str] = []

    def record(_sender, template, **_extra) -> None:
        if template.name == "_macros/sparkline_chart.html":
            drawn.append(template.name)

    app.extensions.pop("crm_parts", None)  # another test may have kept them in this worker
    client = signed_in(app, world["user"])
    template_rendered.connect(record, app)
    try:
        first = client.get("/portal/").get_data(True)
        charts = len(drawn)
        second = client.get("/portal/").get_data(True)
        assert charts >= 1 and len(drawn) == charts and first.count("<svg") == second.count("<svg")
        db.session.add(
            MetricSnapshot(
                factory=world["factory"],
                metric_code="response_3min_rate",
                month=date(2026, 9, 1),
                value=Decimal("64"),
            )
        )
        db.session.commit()
        third = html.unescape(client.get("/portal/").get_data(True))
    finally:
        template_rendered.disconnect(record, app)
    assert len(drawn) == charts + 1
    assert "Sep 2026: 64 %" in third and "Oct 2026: 72 %" in third


def test_what_stands_in_the_way_is_put_in_words_translated_once(app, world, monkeypatch):
    """The blocking items' sentences are looked up once for all of them, not once an item."""
    from crm.services.growth import eligibility

    looked_up: list[int] = []
    words = eligibility._explain_words

    def counted():
        looked_up.append(1)
        return words()

    monkeypatch.setattr(eligibility, "_explain_words", counted)
    page = html.unescape(signed_in(app, world["user"]).get("/portal/").get_data(True))
    assert page.count("not done yet") >= 2 and len(looked_up) == 1


def test_a_factory_hands_in_a_link_and_its_rep_is_told(app, world):
    task = open_task(world["factory"])
    client = signed_in(app, world["user"])
    response = hand_in(client, task, evidence_link="https://v.example.com/shop-video")
    assert response.status_code == 303
    db.session.expire_all()
    assert task.status == "submitted" and task.evidence_link.endswith("shop-video")
    note = db.session.scalar(select(Notification).where(Notification.kind == "evidence"))
    assert note.user_id == world["rep"].id and "Yongkang Hengda Hardware" in note.title
    assert db.session.scalar(
        select(AuditEntry).where(AuditEntry.record_type == "task", AuditEntry.action == "hand_in")
    )
    page = html.unescape(client.get("/portal/").get_data(True))
    assert "Handed in. Your rep will check it." in page


def test_a_photo_is_evidence_and_only_its_factory_opens_it(app, world):
    task = open_task(world["factory"])
    client = signed_in(app, world["user"])
    photo = (io.BytesIO(builders.image_bytes()), "certificate.png", "image/png")
    assert hand_in(client, task, photo=photo).status_code == 303
    db.session.expire_all()
    assert task.status == "submitted" and task.evidence_file
    served = client.get(f"/portal/tasks/{task.id}/evidence/photo")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    stranger = signed_in(app, world["other_user"])
    assert stranger.get(f"/portal/tasks/{task.id}/evidence/photo").status_code == 404


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({}, "evidence_link", "Add a link, a number, a note or a photo as evidence."),
        ({"evidence_link": "javascript:alert(1)"}, "evidence_link", "https://"),
        ({"evidence_number": "lots"}, "evidence_number", ""),
    ],
    ids=["nothing", "a script link", "not a number"],
)
def test_bad_evidence_gets_a_message_by_the_field_and_changes_nothing(
    app, world, fields, field, message
):
    task = open_task(world["factory"])
    client = signed_in(app, world["user"])
    response = hand_in(client, task, **fields)
    page = html.unescape(response.get_data(True))
    assert response.status_code == 422
    assert f'id="task-{task.id}-{field}-error"' in page and message in page
    db.session.expire_all()
    assert task.status == "open" and task.evidence_link is None


def measured_task(factory) -> Task:
    return db.session.scalars(
        select(Task).where(Task.factory_id == factory.id, Task.kind == "measured").order_by(Task.id)
    ).first()


def test_evidence_for_a_measured_item_is_refused_by_the_field_and_changes_nothing(app, world):
    task = measured_task(world["factory"])
    assert task is not None and task.status == "open"
    client = signed_in(app, world["user"])
    response = hand_in(client, task, evidence_number="95", evidence_note="trust us")
    assert response.status_code == 422
    assert "it takes no evidence" in html.unescape(response.get_data(True))
    db.session.expire_all()
    assert task.status == "open" and task.evidence_number is None and task.evidence_note is None
    assert not db.session.scalar(select(Notification).where(Notification.kind == "evidence"))


def test_evidence_for_a_measured_item_is_refused_by_the_api_naming_the_field(app, world):
    task = measured_task(world["factory"])
    client = signed_in(app, world["user"])
    token = client.get("/api/v1/session").get_json()["csrf_token"]
    response = client.post(
        f"/api/v1/tasks/{task.id}/evidence",
        json={"number": "95"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and "it takes no evidence" in error["fields"]["link"]
    db.session.expire_all()
    assert task.status == "open" and task.evidence_number is None


def test_a_factory_user_cannot_reach_another_factorys_task(app, world):
    theirs = open_task(world["other"])
    client = signed_in(app, world["user"])
    assert hand_in(client, theirs, evidence_note="ours").status_code == 404
    db.session.expire_all()
    assert theirs.status == "open"


def test_a_sent_back_task_shows_the_reps_reason(app, world):
    task = open_task(world["factory"])
    task.send_back_reason = "The video must show the workshop"
    db.session.commit()
    page = html.unescape(signed_in(app, world["user"]).get("/portal/").get_data(True))
    assert "Your rep asked for more: The video must show the workshop" in page


def test_no_answer_to_a_factory_user_holds_internal_notes_or_other_factories(app, world):
    """Every page a factory user may open, with ids of its own records: no notes, no others."""
    client = signed_in(app, world["user"])
    task = open_task(world["factory"])
    values = {"factory_id": world["factory"].id, "task_id": task.id}
    opened = []
    for rule in app.url_map.iter_rules():
        permission = scope.permission_of(app.view_functions, rule.endpoint)
        if "GET" not in rule.methods or permission not in ("factory", "signed_in"):
            continue
        if set(rule.arguments) - set(values):
            continue
        path = rule.build({name: values[name] for name in rule.arguments})[1]
        body = client.get(path).get_data(as_text=True)
        opened.append(path)
        assert SECRET not in body, path
        assert "Another Works Ltd" not in body, path
        assert "Elsewhere" not in body, path
    assert "/portal/" in opened and "/api/v1/session" in opened


# --- colleagues: invitation links -------------------------------------------------------


def invitation_link(client) -> str:
    token = csrf_token(client, "/portal/team")
    page = html.unescape(
        client.post("/portal/team/invitations", data={"csrf_token": token}).get_data(True)
    )
    match = re.search(r'value="http://[^/]+(/invite/[^"]+)"', page)
    assert match, page[-2000:]
    return match.group(1)


def join(link: str, app, **fields):
    client = app.test_client()
    token = csrf_token(client, link)
    data = {
        "name": "Chen Jing",
        "login": "chen.jing@hengda.example",
        "password": "hengda-works-2026",
        **fields,
    }
    return client.post(link, data={"csrf_token": token, **data})


def test_an_owner_invites_a_colleague_who_makes_a_login_once(app, world):
    link = invitation_link(signed_in(app, world["user"]))
    response = join(link, app)
    assert response.status_code == 303 and response.headers["Location"] == "/portal/"
    colleague = db.session.scalar(select(User).where(User.email == "chen.jing@hengda.example"))
    assert colleague.factory_id == world["factory"].id and not colleague.is_factory_owner
    again = app.test_client().get(link)
    assert again.status_code == 404
    assert "expired or was used" in html.unescape(again.get_data(True))


def test_an_invitation_expires_after_seven_days(app, world):
    link = invitation_link(signed_in(app, world["user"]))
    with time_machine.travel(NOW + timedelta(days=7, minutes=1), tick=False):
        assert app.test_client().get(link).status_code == 404


def test_a_taken_login_or_a_weak_password_is_said_by_the_field(app, world):
    link = invitation_link(signed_in(app, world["user"]))
    taken = join(link, app, login=world["rep"].email)
    assert taken.status_code == 422 and "This login is taken." in html.unescape(
        taken.get_data(True)
    )
    weak = join(link, app, password="123")
    assert weak.status_code == 422
    assert join(link, app).status_code == 303  # the refusals did not spend the link


def test_only_the_owner_makes_invitation_links(app, world):
    colleague = builders.user("factory", factory=world["factory"])
    colleague.is_factory_owner = False
    db.session.commit()
    client = signed_in(app, colleague)
    assert "Make an invitation link" not in client.get("/portal/team").get_data(True)
    token = csrf_token(client, "/portal/team")
    assert client.post("/portal/team/invitations", data={"csrf_token": token}).status_code == 403


def open_links_on_the_team_page(client) -> list[str]:
    page = client.get("/portal/team").get_data(True)
    return re.findall(r'action="(/portal/team/invitations/\d+/revoke)"', page)


def test_the_owner_revokes_an_invitation_link_and_it_makes_no_login(app, world):
    client = signed_in(app, world["user"])
    link = invitation_link(client)
    [action] = open_links_on_the_team_page(client)
    response = client.post(action, data={"csrf_token": csrf_token(client, "/portal/team")})
    assert response.status_code == 303 and response.headers["Location"] == "/portal/team"
    assert open_links_on_the_team_page(client) == []
    assert app.test_client().get(link).status_code == 404
    assert join(link, app).status_code == 404
    assert db.session.scalar(select(User).where(User.email == "chen.jing@hengda.example")) is None
    entry = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.record_type == "invitation", AuditEntry.action == "revoke"
        )
    )
    assert entry.actor_id == world["user"].id


def test_a_colleague_who_is_not_the_owner_may_not_revoke_a_link(app, world):
    link = invitation_link(signed_in(app, world["user"]))
    colleague = builders.user("factory", factory=world["factory"])
    colleague.is_factory_owner = False
    db.session.commit()
    client = signed_in(app, colleague)
    invitation_id = db.session.scalar(select(Invitation.id))
    token = csrf_token(client, "/portal/team")
    action = f"/portal/team/invitations/{invitation_id}/revoke"
    assert client.post(action, data={"csrf_token": token}).status_code == 403
    stranger = signed_in(app, world["other_user"])
    token = csrf_token(stranger, "/portal/team")
    assert stranger.post(action, data={"csrf_token": token}).status_code == 404
    assert join(link, app).status_code == 303  # the link still works


def test_each_open_item_has_its_own_blank_form_made_once_a_language_with_the_readers_token(
    app, world
):
    """The blank hand-in form is rendered once per process and language (crm.views.kept
    .RowFragment); each item still gets its own URL and field ids, each reader their own
    language and CSRF token."""
    world["other_user"].locale = "zh_Hans"
    db.session.commit()
    readers = {"en": signed_in(app, world["user"]), "zh": signed_in(app, world["other_user"])}
    factories = {"en": world["factory"], "zh": world["other"]}
    with force_locale("zh_Hans"):
        chinese_link = gettext("Link")
    rendered: list[str] = []

    def record(_sender, template, **_extra) -> None:
        rendered.append(template.name)

    app.extensions.pop("crm_fragments", None)
    template_rendered.connect(record, app)
    try:
        for language in ("en", "en", "zh", "en", "zh"):
            before = len(rendered)
            page = readers[language].get("/portal/").get_data(True)
            token = re.search(r'name="csrf-token" content="([^"]+)"', page)[1]
            items = db.session.scalars(
                select(Task.id).where(
                    Task.factory_id == factories[language].id,
                    Task.status == "open",
                    Task.kind != "measured",
                    Task.stage == "junior",
                )
            ).all()
            assert len(items) >= 2
            for task_id in items:
                form = page.partition(f'action="/portal/tasks/{task_id}/evidence"')[2]
                form = form.partition("</form>")[0]
                assert f'id="task-{task_id}-evidence_link"' in form
                assert f'name="task-{task_id}-csrf_token" type="hidden" value="{token}"' in form
                assert (f">{chinese_link}</label>" in form) == (language == "zh")
            made = rendered[before:].count("portal/_hand_in.html")
            assert made == (1 if language not in rendered[:before] else 0), language
            rendered.append(language)
    finally:
        template_rendered.disconnect(record, app)
    assert readers["en"].get("/portal/").status_code == 200
