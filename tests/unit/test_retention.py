"""Retention that runs by itself (issue 23), with a frozen clock: each kind of record just before
its period is kept and just after it is coarsened or deleted; a second run changes nothing;
every batch is audited; a file already gone does not fail the job; the run's counts are kept."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm import clock
from crm.errors import Conflict
from crm.extensions import db
from crm.jobs import JOBS, retention
from crm.models import (
    AuditEntry,
    Delivery,
    LoginAttempt,
    Notification,
    NotificationChannel,
    RoutePlan,
    UserSession,
    Visit,
    VisitPhoto,
    VisitVoiceNote,
    WebhookDelivery,
)
from crm.services import storage
from crm.services.field import photos, visits, voice_notes
from crm.services.install import audit, settings
from tests import builders
from tests.unit.test_jobs import run as run_job

NOW = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)  # 03:00 in Shanghai, the job's hour
MINUTE = timedelta(minutes=1)
JUST_KEPT, JUST_PAST = MINUTE, -MINUTE  # added to the cutoff: after it, and before it


def days_ago(days: int, shift: timedelta = timedelta(0)) -> datetime:
    return NOW - timedelta(days=days) + shift


def run(now: datetime = NOW) -> Counter:
    """The job's counts over a whole run (tests.unit.test_jobs.run)."""
    return run_job(JOBS["retention"].run, now)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session, empty_store):
    """A rep's factory, with a store of this test's own for the visits' files."""
    rep = builders.user("rep", team_=builders.team())
    owned = builders.factory(builders.belt(rep.team), owner=rep)
    return {"team": rep.team, "rep": rep, "factory": owned}


def checked_in(world, at: datetime, **fields) -> Visit:
    position = {"lat": 29.123456, "lng": 120.654321, "accuracy_m": 12.0, "distance_m": 41.5}
    return builders.visit(
        world["factory"], world["rep"], checked_in_at=at, **{**position, **fields}
    )


def with_media(world, stored_at: datetime) -> Visit:
    visit = checked_in(world, stored_at)
    for record in (builders.visit_photo(visit), builders.visit_voice_note(visit)):
        record.created_at = stored_at
    db.session.flush()
    return visit


def retention_entries() -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.actor_job == retention.ACTOR)
            .order_by(AuditEntry.id)
        )
    )


# --- each kind, just before and just after its period ---------------------------------------------


def test_a_check_in_position_is_coarsened_to_about_a_kilometre_once_past_its_period(world):
    kept = checked_in(world, days_ago(180, JUST_KEPT))
    past = checked_in(world, days_ago(180, JUST_PAST), off_site=True, accuracy_m=3000.0)
    no_position = checked_in(world, days_ago(400), lat=None, lng=None, accuracy_m=None)

    assert run()["positions_coarsened"] == 1

    assert (kept.lat, kept.lng, kept.accuracy_m) == (29.123456, 120.654321, 12.0)
    assert kept.position_coarsened_at is None
    db.session.refresh(past)
    assert (past.lat, past.lng) == (29.12, 120.65)
    assert past.accuracy_m == 3000.0 and past.position_coarsened_at == NOW
    # Facts of the visit, not positions: they stay.
    assert past.distance_m == 41.5 and past.off_site is True
    db.session.refresh(no_position)
    assert no_position.lat is None and no_position.accuracy_m is None


def test_a_coarsened_position_is_never_more_precise_than_a_kilometre(world):
    visit = checked_in(world, days_ago(200), accuracy_m=None)
    run()
    db.session.refresh(visit)
    assert visit.accuracy_m == 1000.0


def test_photos_and_voice_notes_are_deleted_past_their_period_and_the_visit_says_when(world):
    kept = with_media(world, days_ago(730, JUST_KEPT))
    past = with_media(world, days_ago(730, JUST_PAST))
    past_files = [
        photos.key_of(past.photos[0].stored_name),
        photos.key_of(past.photos[0].stored_name, thumbnail=True),
        voice_notes.key_of(past.voice_note.stored_name, past.voice_note.content_type),
    ]
    kept_files = [photos.key_of(kept.photos[0].stored_name)]
    kept_store = storage.store()
    assert all(kept_store.exists(key) for key in past_files + kept_files)

    totals = run()

    assert totals["photos_deleted"] == 1 and totals["voice_notes_deleted"] == 1
    db.session.expire_all()
    assert not any(kept_store.exists(key) for key in past_files)
    assert all(kept_store.exists(key) for key in kept_files)
    assert past.photos == [] and past.voice_note is None and past.media_deleted_at == NOW
    assert len(kept.photos) == 1 and kept.voice_note is not None
    assert kept.media_deleted_at is None


def test_a_file_already_gone_does_not_fail_the_job(world):
    visit = with_media(world, days_ago(800))
    photos.remove([visit.photos[0].stored_name])
    voice_notes.remove(visit.voice_note)

    totals = run()

    assert totals["photos_deleted"] == 1 and totals["voice_notes_deleted"] == 1
    assert db.session.scalar(select(func.count()).select_from(VisitPhoto)) == 0
    assert db.session.scalar(select(func.count()).select_from(VisitVoiceNote)) == 0


def test_failed_sign_ins_and_sessions_unseen_are_deleted_past_their_period(world):
    rep = world["rep"]
    attempts = [
        LoginAttempt(login="rep@example.com", address="10.0.0.1", at=days_ago(90, shift))
        for shift in (JUST_KEPT, JUST_PAST)
    ]
    sessions = [
        UserSession(
            user_id=rep.id,
            token_hash=f"{n:064d}",
            created_at=days_ago(400),
            last_seen_at=days_ago(90, shift),
        )
        for n, shift in enumerate((JUST_KEPT, JUST_PAST))
    ]
    db.session.add_all(attempts + sessions)
    db.session.flush()
    ids = {"attempts": [a.id for a in attempts], "sessions": [s.id for s in sessions]}

    totals = run()

    assert totals["login_attempts_deleted"] == 1 and totals["sessions_deleted"] == 1
    assert db.session.scalars(select(LoginAttempt.id)).all() == ids["attempts"][:1]
    assert db.session.scalars(select(UserSession.id)).all() == ids["sessions"][:1]


def test_only_finished_deliveries_are_deleted_past_their_period(world):
    notice = Notification(user_id=world["rep"].id, kind="digest", title="Weekly digest")
    channel = NotificationChannel(team_id=world["team"].id, kind="wecom", url="https://x.test/h")
    db.session.add_all([notice, channel])
    db.session.flush()

    def email(status: str, shift: timedelta) -> Delivery:
        fields = {"channel": "email", "target": "rep@example.com"}
        return Delivery(
            notification_id=notice.id, status=status, **fields, created_at=days_ago(365, shift)
        )

    def robot(status: str, shift: timedelta) -> WebhookDelivery:
        fields = {"event": "digest", "payload": "Weekly digest"}
        return WebhookDelivery(
            channel_id=channel.id, status=status, **fields, created_at=days_ago(365, shift)
        )

    kept = [email("sent", JUST_KEPT), email("pending", JUST_PAST), email("sending", JUST_PAST)]
    kept += [robot("sent", JUST_KEPT), robot("pending", JUST_PAST)]
    gone = [email("sent", JUST_PAST), email("failed", JUST_PAST), email("flagged", JUST_PAST)]
    gone += [robot("sent", JUST_PAST), robot("failed", JUST_PAST)]
    db.session.add_all(kept + gone)
    db.session.flush()

    totals = run()

    assert totals["deliveries_deleted"] == 3 and totals["webhook_deliveries_deleted"] == 2
    left = set(db.session.scalars(select(Delivery.id))) | {
        -n for n in db.session.scalars(select(WebhookDelivery.id))
    }
    assert left == {r.id if isinstance(r, Delivery) else -r.id for r in kept}


def test_audit_entries_past_their_period_are_expired_and_the_expiry_is_audited(world):
    old = audit.record("test", "factory", world["factory"].id, "update")
    old.at = days_ago(1825, JUST_PAST)
    young = audit.record("test", "factory", world["factory"].id, "update")
    young.at = days_ago(1825, JUST_KEPT)
    db.session.flush()
    old_id, young_id = old.id, young.id

    assert run()["audit_entries_deleted"] == 1

    db.session.expire_all()
    assert db.session.get(AuditEntry, old_id) is None
    assert db.session.get(AuditEntry, young_id) is not None
    (expiry,) = [e for e in retention_entries() if e.record_type == "audit_entry"]
    assert expiry.action == "expire" and expiry.changes["entries"] == [None, 1]


def test_the_periods_are_the_admins_settings(world):
    admin = builders.user("admin")
    settings.put(admin, "position_retention_days", 30)
    visit = checked_in(world, days_ago(31))
    assert run()["positions_coarsened"] == 1
    db.session.refresh(visit)
    assert visit.lat == 29.12


# --- the job as a whole ---------------------------------------------------------------------------


def everything_past(world) -> None:
    checked_in(world, days_ago(181))
    with_media(world, days_ago(731))
    db.session.add_all(
        [
            LoginAttempt(login="x", address="10.0.0.1", at=days_ago(91)),
            UserSession(user_id=world["rep"].id, token_hash="f" * 64, last_seen_at=days_ago(91)),
        ]
    )
    entry = audit.record("test", "factory", world["factory"].id, "update")
    entry.at = days_ago(1826)
    db.session.flush()


def test_each_batch_is_audited_with_its_count_and_cutoff_by_the_job(world):
    everything_past(world)
    run()
    summaries = [(e.record_type, e.action, e.changes) for e in retention_entries()]
    media_before = [None, days_ago(730).isoformat()]
    sign_in_before = [None, days_ago(90).isoformat()]
    assert summaries == [
        # The visit with media was checked in long ago too: two positions.
        (
            "visit",
            "coarsen_positions",
            {"before": [None, days_ago(180).isoformat()], "visits": [None, 2]},
        ),
        ("visit", "delete_media", {"before": media_before, "photos_deleted": [None, 1]}),
        ("visit", "delete_media", {"before": media_before, "voice_notes_deleted": [None, 1]}),
        ("login_attempt", "expire", {"before": sign_in_before, "entries": [None, 1]}),
        ("user_session", "expire", {"before": sign_in_before, "entries": [None, 1]}),
        (
            "audit_entry",
            "expire",
            {"before": [None, days_ago(1825).isoformat()], "entries": [None, 1]},
        ),
    ]
    assert all(entry.actor_id is None for entry in retention_entries())


def test_a_routes_start_is_forgotten_once_its_day_is_over(world):
    today = clock.today(NOW)
    plans = [
        RoutePlan(user_id=world["rep"].id, day=day, factory_ids=[], start_lat=29.1, start_lng=120.1)
        for day in (today - timedelta(days=1), today)
    ]
    db.session.add_all(plans)
    db.session.flush()
    assert run()["route_starts_forgotten"] == 1
    db.session.expire_all()
    assert [(plan.start_lat, plan.start_lng) for plan in plans] == [(None, None), (29.1, 120.1)]
    (entry,) = [e for e in retention_entries() if e.record_type == "route_plan"]
    assert entry.action == "forget_start" and entry.changes["route_starts"] == [None, 1]
    assert run(NOW + timedelta(minutes=5))["route_starts_forgotten"] == 0


def test_running_the_job_twice_changes_nothing_the_second_time(world):
    everything_past(world)
    first = run()
    assert all(first[key] >= 1 for key in ("positions_coarsened", "photos_deleted"))
    entries = db.session.scalar(select(func.count()).select_from(AuditEntry))
    visits = db.session.execute(select(Visit).order_by(Visit.id)).scalars().all()
    before = [(v.lat, v.lng, v.accuracy_m, v.position_coarsened_at) for v in visits]

    second = run(NOW + timedelta(minutes=5))

    assert set(second) == set(first) and all(value == 0 for value in second.values())
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == entries
    db.session.expire_all()
    assert [(v.lat, v.lng, v.accuracy_m, v.position_coarsened_at) for v in visits] == before


def test_the_job_works_in_batches(world, monkeypatch):
    monkeypatch.setattr("crm.services.install.retention.BATCH", 2)
    for n in range(5):
        checked_in(world, days_ago(200 + n))
    counts = JOBS["retention"].run(db.session, NOW)
    batches = [c["positions_coarsened"] for c in counts if "positions_coarsened" in c]
    assert batches == [2, 2, 1]


def test_the_job_runs_daily_before_the_sweep():
    job = JOBS["retention"]
    assert job.key(NOW) == "retention:2026-11-26"
    assert job.key(NOW - MINUTE) == "retention:2026-11-25"
    assert job.schedule.hour != JOBS["daily"].schedule.hour


def test_a_coarsened_visit_keeps_its_fingerprint_sealed_and_still_answers_its_repeat(world):
    logged_at = days_ago(200)
    sent = visits.Submission(
        client_key="retention-0001",
        purpose="follow_up",
        checked_in_at=logged_at - MINUTE,
        lat=29.1234567,
        lng=120.6543219,
        accuracy_m=8.5,
        position_at=logged_at - 2 * MINUTE,
    )
    visit = visits.log_visit(world["rep"], world["factory"], sent, logged_at).visit
    exact = sent.fingerprint(world["factory"].id)
    assert visit.fingerprint == exact

    run()

    db.session.refresh(visit)
    # The exact position can no longer be tried against the stored hash without the secret.
    assert visit.fingerprint != exact and visit.fingerprint == visits.sealed(exact)
    again = visits.log_visit(world["rep"], world["factory"], sent, NOW)
    assert again.visit.id == visit.id and again.created is False
    other = replace(sent, summary="Something else")
    with pytest.raises(Conflict):
        visits.log_visit(world["rep"], world["factory"], other, NOW)
