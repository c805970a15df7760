"""Retention (issue 23, "PIPL by design"): what the install keeps, and for how long.

Each period is an admin's setting (crm.services.install.settings, in days):

- check-in positions (`position_retention_days`, 180): a visit's latitude and longitude are
  rounded to two decimals (about a kilometre) and its accuracy widened to match; the distance
  to the factory and the off-site flag stay, as facts of the visit rather than positions. Its
  fingerprint (a hash of what the phone sent, the exact position included) is sealed with the
  install's secret (crm.services.field.visits.sealed): the exact position could otherwise be
  found again by hashing the positions near the coarse one, while a repeat of the visit is
  still answered with it;
- visit photos and voice notes (`media_retention_days`, 730, counted from when they were
  stored): their files and rows are deleted, and the visit keeps when (`media_deleted_at`), so
  that its page says they were deleted by retention rather than never taken;
- failed sign-ins (`sign_in_retention_days`, 90) by when they were made, and sign-in sessions
  by when they were last seen (a session in use is seen every few minutes, and "remember me"
  lasts 30 days, so a row unseen this long signs no one out);
- e-mail and team robot deliveries (`delivery_retention_days`, 365) that are finished: sent,
  failed, or flagged after a crash; a waiting or sending one is never deleted;
- audit entries (`retention_days`, 1825) through crm.services.install.audit_retention, the one
  module allowed to delete them;
- where a day's route started (a rep's position, kept with their consent for that day only:
  crm.services.field.day_route): forgotten once its day is over.

Each step is a generator of (session, now, actor): it finds a batch of rows past their period
with one indexed query, deletes or coarsens them, writes one audit entry that counts them and
names the cutoff, flushes and yields its counts; the job's wrapper commits after each yield.
A row done is no longer found (deleted, or marked coarsened), so a second run does nothing and
writes nothing; a step with nothing to do yields a zero count, for the jobs page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from crm.models import Delivery, LoginAttempt, UserSession, Visit, VisitPhoto, VisitVoiceNote
from crm.models.visit import TO_COARSEN
from crm.models.webhooks import WebhookDelivery
from crm.services.field import day_route, photos, visits, voice_notes
from crm.services.install import audit, audit_retention, settings

BATCH = 1000
MEDIA_BATCH = 200  # each row is a file or two to delete as well
# Two decimals of a degree: 1.1 km of latitude, and less of longitude away from the equator.
COARSE_DECIMALS = 2
COARSE_ACCURACY_M = 1000.0
# The finished deliveries: nothing will send them again (a flagged e-mail was cut off by a crash).
FINISHED_EMAIL = ("sent", "failed", "flagged")
FINISHED_WEBHOOK = ("sent", "failed")

Counts = dict[str, int]


def cutoff(key: str, now: datetime) -> datetime:
    """The instant before which a kind of record is past its period (a setting in days)."""
    return now - timedelta(days=int(settings.get(key)))


def apply(session: Session, now: datetime, actor: audit.Actor) -> Iterator[Counts]:
    """Every step in turn, a batch at a time."""
    yield from coarsen_positions(session, now, actor)
    yield from delete_media(session, now, actor)
    yield from delete_sign_ins(session, now, actor)
    yield from delete_deliveries(session, now, actor)
    yield from expire_audit_entries(session, now, actor)
    yield from forget_route_starts(session, now, actor)


def _summary(actor: audit.Actor, kind: str, action: str, before: datetime, **counts: int) -> None:
    """One audit entry for a batch: what was done, to how many, and the cutoff."""
    changes = {"before": (None, before.isoformat())}
    changes.update({name: (None, count) for name, count in counts.items()})
    audit.record(actor, kind, None, action, changes)


# --- positions ----------------------------------------------------------------------------------


def coarsen(value: float | None) -> float | None:
    return None if value is None else round(value, COARSE_DECIMALS)


def coarsen_positions(session: Session, now: datetime, actor: audit.Actor) -> Iterator[Counts]:
    """Round the positions of the check-ins older than the period to about a kilometre."""
    before = cutoff("position_retention_days", now)
    while True:
        rows = session.execute(
            select(Visit.id, Visit.lat, Visit.lng, Visit.accuracy_m, Visit.fingerprint)
            .where(TO_COARSEN, Visit.checked_in_at < before)
            .order_by(Visit.checked_in_at)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        # In Python: PostgreSQL rounds a double precision to whole numbers only.
        session.execute(
            update(Visit),
            [
                {
                    "id": visit_id,
                    "lat": coarsen(lat),
                    "lng": coarsen(lng),
                    "accuracy_m": max(accuracy or 0.0, COARSE_ACCURACY_M),
                    "position_coarsened_at": now,
                    "fingerprint": visits.sealed(fingerprint),
                }
                for visit_id, lat, lng, accuracy, fingerprint in rows
            ],
        )
        _summary(actor, "visit", "coarsen_positions", before, visits=len(rows))
        session.flush()
        yield {"positions_coarsened": len(rows)}
        if len(rows) < BATCH:
            return
    yield {"positions_coarsened": 0}


# --- photos and voice notes ---------------------------------------------------------------------


def delete_media(session: Session, now: datetime, actor: audit.Actor) -> Iterator[Counts]:
    """Delete the photos and voice notes stored before the period, files first; their visits
    keep when. A file already gone is no matter: the row is what retention must not keep."""
    before = cutoff("media_retention_days", now)
    for model, key in ((VisitPhoto, "photos_deleted"), (VisitVoiceNote, "voice_notes_deleted")):
        while True:
            rows = session.execute(
                select(model.id, model.visit_id, model.stored_name, model.content_type)
                .where(model.created_at < before)
                .order_by(model.created_at)
                .limit(MEDIA_BATCH)
            ).all()
            if not rows:
                break
            _remove_files(model, rows)
            session.execute(
                delete(model)
                .where(model.id.in_([row.id for row in rows]))
                .execution_options(synchronize_session=False)
            )
            visit_ids = sorted({row.visit_id for row in rows})
            session.execute(
                update(Visit)
                .where(Visit.id.in_(visit_ids), Visit.media_deleted_at.is_(None))
                .values(media_deleted_at=now)
                .execution_options(synchronize_session=False)
            )
            _summary(actor, "visit", "delete_media", before, **{key: len(rows)})
            session.flush()
            yield {key: len(rows)}
            if len(rows) < MEDIA_BATCH:
                break
        yield {key: 0}


def _remove_files(model: type, rows: list) -> None:
    if model is VisitPhoto:
        photos.delete([row.stored_name for row in rows])
        return
    for row in rows:
        voice_notes.delete(row.stored_name, row.content_type)


# --- sign-ins and deliveries --------------------------------------------------------------------


def _delete_batches(
    session: Session, actor: audit.Actor, kind: str, key: str, before: datetime, when, *where
) -> Iterator[Counts]:
    """Delete the rows older than `before` by the column `when` (indexed, with `where`)."""
    model = when.class_
    while True:
        ids = session.scalars(
            select(model.id).where(*where, when < before).order_by(when).limit(BATCH)
        ).all()
        if not ids:
            break
        session.execute(
            delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False)
        )
        _summary(actor, kind, "expire", before, entries=len(ids))
        session.flush()
        yield {key: len(ids)}
        if len(ids) < BATCH:
            return
    yield {key: 0}


def delete_sign_ins(session: Session, now: datetime, actor: audit.Actor) -> Iterator[Counts]:
    """Failed sign-ins by when they were made; sessions by when they were last seen."""
    before = cutoff("sign_in_retention_days", now)
    yield from _delete_batches(
        session, actor, "login_attempt", "login_attempts_deleted", before, LoginAttempt.at
    )
    yield from _delete_batches(
        session, actor, "user_session", "sessions_deleted", before, UserSession.last_seen_at
    )


def delete_deliveries(session: Session, now: datetime, actor: audit.Actor) -> Iterator[Counts]:
    """The finished e-mail and team robot deliveries queued before the period."""
    before = cutoff("delivery_retention_days", now)
    yield from _delete_batches(
        session,
        actor,
        "delivery",
        "deliveries_deleted",
        before,
        Delivery.created_at,
        Delivery.status.in_(FINISHED_EMAIL),
    )
    yield from _delete_batches(
        session,
        actor,
        "webhook_delivery",
        "webhook_deliveries_deleted",
        before,
        WebhookDelivery.created_at,
        WebhookDelivery.status.in_(FINISHED_WEBHOOK),
    )


# --- the audit log ------------------------------------------------------------------------------


def expire_audit_entries(session: Session, now: datetime, actor: audit.Actor) -> Iterator[Counts]:
    """The audit entries past their period, through the one module that may delete them."""
    while True:
        count = audit_retention.expire(actor, now, limit=BATCH)
        session.flush()
        if not count:
            break
        yield {"audit_entries_deleted": count}
        if count < BATCH:
            return
    yield {"audit_entries_deleted": 0}


# --- route starts -------------------------------------------------------------------------------


def forget_route_starts(session: Session, now: datetime, actor: audit.Actor) -> Iterator[Counts]:
    """Where the routes of earlier days started: forgotten (one statement, an indexed few rows a
    rep a day)."""
    count = day_route.forget_past_starts(now)
    if count:
        _summary(actor, "route_plan", "forget_start", now, route_starts=count)
        session.flush()
    yield {"route_starts_forgotten": count}
