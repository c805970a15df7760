"""A rep corrects their visit within a day (issue 22, "Corrections with their history"): the
texts, the purpose and the contact change, the earlier version is kept and shown to staff, the
factory sees only the summary as it stands, and each correction is audited without its text."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEntry, Visit, VisitCorrection
from crm.services.install import settings
from tests import builders
from tests.web.helpers import csrf_token, sign_in

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday, 11:00 in Shanghai


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, stage="elementary", name="Yongkang Cups Co.")
    met, other = builders.contact(factory, name="孙丽"), builders.contact(factory, name="王强")
    elsewhere = builders.contact(builders.factory(belt, owner=rep), name="李四")
    visit = builders.visit(
        factory,
        rep,
        purpose="follow_up",
        checked_in_at=NOW - timedelta(hours=3),
        received_at=NOW - timedelta(hours=2),
        summary="Shop opend; 20 items live.",
        notes="Owner was tired.",
        contact_id=met.id,
    )
    manager = builders.user("manager", leads=[team])
    portal = builders.user("factory", factory=factory)
    db_session.commit()
    return {
        "rep": rep,
        "factory": factory,
        "visit": visit,
        "met": met,
        "other": other,
        "elsewhere": elsewhere,
        "manager": manager,
        "portal": portal,
        "colleague": builders.user("rep", team_=team),
    }


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def send(client, world, **changes):
    visit = world["visit"]
    form = {
        "purpose": visit.purpose,
        "summary": visit.summary,
        "notes": visit.notes,
        "contact_id": str(visit.contact_id or ""),
        **changes,
    }
    token = csrf_token(client, f"/visits/{visit.id}/correct")
    return client.post(f"/visits/{visit.id}/correct", data={"csrf_token": token, **form})


def stored(world) -> Visit:
    db.session.expire_all()
    return db.session.get(Visit, world["visit"].id)


def test_the_rep_corrects_the_text_purpose_and_contact_and_the_earlier_version_is_kept(
    client, world
):
    sign_in(client, world["rep"].email)
    page = client.get(f"/visits/{world['visit'].id}/correct")
    assert page.status_code == 200 and "Shop opend" in text_of(page)
    response = send(
        client,
        world,
        summary="Shop opened; 20 items live.",
        purpose="training",
        contact_id=str(world["other"].id),
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"#visit-{world['visit'].id}")
    visit = stored(world)
    assert (visit.summary, visit.purpose, visit.contact_id) == (
        "Shop opened; 20 items live.",
        "training",
        world["other"].id,
    )
    assert visit.notes == "Owner was tired." and visit.edited_at == NOW
    # Where and when it happened never change.
    assert visit.checked_in_at == NOW - timedelta(hours=3)
    (earlier,) = db.session.scalars(select(VisitCorrection)).all()
    assert (earlier.summary, earlier.purpose, earlier.contact_id, earlier.notes) == (
        "Shop opend; 20 items live.",
        "follow_up",
        world["met"].id,
        "Owner was tired.",
    )
    assert earlier.corrected_by_id == world["rep"].id
    # Audited: which fields changed, never the text or the person met.
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "correct")).one()
    assert entry.factory_id == world["factory"].id
    assert entry.changes == {
        "summary": ["earlier", "corrected"],
        "purpose": ["follow_up", "training"],
        "contact_id": ["earlier", "corrected"],
    }
    assert "opend" not in str(entry.changes) and "孙丽" not in str(entry.changes)


def test_a_second_correction_keeps_both_earlier_versions_newest_first(client, world):
    sign_in(client, world["rep"].email)
    assert send(client, world, summary="First fix.").status_code == 303
    world["visit"] = stored(world)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        assert send(client, world, summary="Second fix.").status_code == 303
    sign_in(client, world["manager"].email)
    page = text_of(client.get(f"/factories/{world['factory'].id}"))
    assert "Earlier text (2 corrections)" in page
    assert page.index("First fix.") < page.index("Shop opend")  # newest first
    assert "Second fix." in page


def test_staff_see_edited_and_the_earlier_text_and_the_factory_sees_neither(client, world):
    sign_in(client, world["rep"].email)
    send(client, world, summary="Shop opened; 20 items live.", notes="Owner was busy.")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    sign_in(client, world["manager"].email)
    manager_page = text_of(client.get(f"/factories/{world['factory'].id}"))
    assert "Edited" in manager_page and "Shop opend" in manager_page
    assert "Owner was tired." in manager_page  # the earlier internal notes, to staff
    # Only the visit's rep is offered Correct; a manager reads, never rewrites.
    assert f"/visits/{world['visit'].id}/correct" not in manager_page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    sign_in(client, world["portal"].email)
    portal = text_of(client.get("/portal/"))
    assert "Shop opend" not in portal and "Owner was" not in portal and "Edited" not in portal


def test_the_rep_is_offered_correct_for_a_day_and_refused_after(client, world):
    sign_in(client, world["rep"].email)
    path = f"/visits/{world['visit'].id}/correct"
    assert path in text_of(client.get(f"/factories/{world['factory'].id}"))
    later = world["visit"].received_at + timedelta(hours=24)
    with time_machine.travel(later, tick=False):
        assert path not in text_of(client.get(f"/factories/{world['factory'].id}"))
        page = client.get(path)
        assert page.status_code == 403 and "24 hours" in text_of(page)
        token = csrf_token(client, "/account/")
        late = client.post(
            path, data={"csrf_token": token, "summary": "Too late", "purpose": "other"}
        )
        assert late.status_code == 403
    assert stored(world).summary == "Shop opend; 20 items live."


def test_only_the_visit_s_rep_corrects_it(client, world):
    path = f"/visits/{world['visit'].id}/correct"
    sign_in(client, world["manager"].email)
    assert client.get(path).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    # A colleague who now owns the factory sees the visit, and still may not rewrite it.
    world["factory"].owner_id = world["colleague"].id
    db.session.commit()
    sign_in(client, world["colleague"].email)
    refused = client.get(path)
    assert refused.status_code == 403 and "Only the rep who logged" in text_of(refused)
    assert stored(world).edited_at is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({}, "summary", "Nothing was changed"),
        ({"purpose": "karaoke"}, "purpose", "Not a valid choice"),
        ({"purpose": "video_shoot"}, "purpose", "needs at least one photo"),
        ({"contact_id": "elsewhere"}, "contact_id", "Not a valid choice"),
        ({"summary": "x" * 2001}, "summary", "2000"),
    ],
    ids=["nothing", "unknown purpose", "photo needed", "another factory's contact", "too long"],
)
def test_a_bad_correction_is_refused_by_its_field_and_changes_nothing(
    client, world, changes, field, message
):
    settings.put(builders.user("admin"), "photo_required_purposes", ["video_shoot"])
    db.session.commit()
    if changes.get("contact_id") == "elsewhere":
        changes = {"contact_id": str(world["elsewhere"].id)}
    sign_in(client, world["rep"].email)
    response = send(client, world, **changes)
    assert response.status_code == 422
    page = text_of(response)
    assert message in page and f'id="{field}-error"' in page
    visit = stored(world)
    assert visit.edited_at is None and visit.summary == "Shop opend; 20 items live."
    assert db.session.scalar(select(db.func.count()).select_from(VisitCorrection)) == 0


def test_the_history_tab_names_the_correction_without_its_text(client, world):
    sign_in(client, world["rep"].email)
    send(client, world, summary="Shop opened.")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    sign_in(client, world["manager"].email)
    page = text_of(client.get(f"/factories/{world['factory'].id}/history"))
    assert "corrected by its rep" in page and "as it was" in page
    assert "Shop opened." not in page and "Shop opend" not in page
