"""Logging a visit: check-in rules, exactly-once keys, photos, voice note, tasks, follow-ups.

DESIGN.md "Check-in" and "Exactly once": the phone's key is unique per user, the first
accepted submission's fingerprint (photo and voice note hashes included) is kept, a repeat
answers the same visit and a different submission under the same key is a conflict. The key
is bound only when a visit is accepted, so a refused submission can be corrected and sent
again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from PIL import Image
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from crm import clock, scope
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.models import Contact, Factory, FollowUp, Task, User, Visit, VisitPhoto, VisitVoiceNote
from crm.services.field import followups, geo, photos, voice_notes
from crm.services.growth import tasks
from crm.services.install import audit, settings
from crm.services.privacy import consent
from crm.services.trust import photo_flags, watermark

# A check-in's phone time is accepted this far before and after the server receives it.
CHECK_IN_PAST = timedelta(days=30)
CHECK_IN_FUTURE = timedelta(minutes=5)


@dataclass
class Submission:
    """A visit as the phone sent it, shape-checked (crm.forms.visits.VisitForm)."""

    client_key: str
    purpose: str
    summary: str = ""
    notes: str = ""
    task_ids: list[int] = field(default_factory=list)
    follow_up_id: int | None = None
    contact_id: int | None = None
    next_in_days: int | None = None
    next_on: date | None = None
    next_reason: str = ""
    checked_in_at: datetime | None = None
    lat: float | None = None
    lng: float | None = None
    accuracy_m: float | None = None
    position_at: datetime | None = None
    photos: list[photos.Upload] = field(default_factory=list)
    # Each photo's capture time as the phone read it from the photo's EXIF (none: not read).
    photo_taken_at: list[datetime | None] = field(default_factory=list)
    voice_note: voice_notes.Upload | None = None
    # A consent to precise location that the phone gave and the server may not have yet: the
    # notice's version and when (crm.services.privacy.consent). Not part of the visit.
    location_consent: int | None = None
    location_consent_at: datetime | None = None

    def fingerprint(self, factory_id: int) -> str:
        """SHA-256 of what was sent: the same submission again has the same fingerprint."""
        content = asdict(self)
        content["photos"] = [upload.sha256 for upload in self.photos]
        # Only a visit with a note names it, so a note-less visit keeps its earlier fingerprint.
        content.pop("voice_note")
        content.pop("location_consent")
        content.pop("location_consent_at")
        # Only a visit sent with capture times names them (one sent before keeps its fingerprint).
        if not self.photo_taken_at:
            content.pop("photo_taken_at")
        if self.voice_note is not None:
            content["voice_note"] = self.voice_note.sha256
        content["task_ids"] = sorted(set(self.task_ids))
        content["factory_id"] = factory_id
        text = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Outcome:
    visit: Visit
    created: bool


def existing(actor: User, client_key: str) -> Visit | None:
    return db.session.scalar(
        select(Visit).where(Visit.rep_id == actor.id, Visit.client_key == client_key)
    )


def log_visit(
    actor: User,
    factory: Factory,
    sent: Submission,
    now: datetime,
    addressed_id: int | None = None,
) -> Outcome:
    """Record a visit exactly once; a repeat of the same submission answers the same visit.

    `addressed_id`: the factory the phone named, when it was merged into `factory` since: the
    fingerprint is of what was sent, so that a repeat after the merge is still the same visit.
    """
    scope.require(actor, "log_visit")
    fingerprint = sent.fingerprint(addressed_id or factory.id)
    earlier = existing(actor, sent.client_key)
    if earlier is not None:
        return _repeat(earlier, fingerprint)
    checked_in_at = _check_in_time(sent, now)
    advanced = _tasks_to_advance(factory, sent.task_ids)
    answered = _follow_up_answered(factory, sent.follow_up_id)
    contact = _contact(factory, sent.contact_id)
    next_day = _next_day(sent, clock.local(checked_in_at).date(), now)
    _require_photo(sent)
    taken = _capture_times(sent, checked_in_at, now)
    images = [photos.prepare(upload) for upload in sent.photos]
    heard = voice_notes.measure(sent.voice_note) if sent.voice_note is not None else None
    visit = Visit(
        factory_id=factory.id,
        rep_id=actor.id,
        purpose=sent.purpose,
        checked_in_at=checked_in_at,
        utc_offset_minutes=_offset_minutes(sent.checked_in_at),
        received_at=now,
        notes=sent.notes.strip(),
        summary=sent.summary.strip(),
        contact_id=contact.id if contact else None,
        client_key=sent.client_key,
        fingerprint=fingerprint,
        created_at=now,
    )
    consent.carry(actor, sent.location_consent, sent.location_consent_at, now)
    _place(visit, factory, sent, consent.consents(actor))
    try:
        with db.session.begin_nested():
            db.session.add(visit)
    except IntegrityError:
        # The same key won a race from another request of this user: answer with that visit.
        earlier = existing(actor, sent.client_key)
        if earlier is None:
            raise
        return _repeat(earlier, fingerprint)
    # A new visit has no photos, tasks or voice note yet: said so, so that adding them reads
    # nothing back (three round trips of a visit's submit on PostgreSQL).
    for empty in ("photos", "tasks"):
        set_committed_value(visit, empty, [])
    set_committed_value(visit, "voice_note", None)
    stored = _store_photos(visit, sent.photos, images, taken, factory, actor)
    note = None
    try:
        note = _store_voice_note(visit, sent.voice_note, heard)
        _advance(actor, visit, advanced, now)
        if answered is not None:
            followups.complete(actor, answered, now, visit=visit)
        if next_day is not None:
            followups.schedule(
                actor,
                factory,
                next_day,
                sent.next_reason.strip(),
                now,
                origin="visit",
                assignee=actor,
            )
        if factory.last_visit_at is None or factory.last_visit_at < checked_in_at:
            factory.last_visit_at = checked_in_at
        db.session.flush()
    except Exception:
        photos.remove(stored)
        voice_notes.remove(note)
        raise
    audit.record(
        actor,
        "visit",
        visit.id,
        "create",
        {"factory_id": (None, factory.id), "purpose": (None, visit.purpose)},
    )
    return Outcome(visit=visit, created=True)


def sealed(fingerprint: str) -> str:
    """A visit's fingerprint once retention has coarsened its position: keyed with the install's
    secret, so that the exact position cannot be found again by hashing the positions near the
    coarse one (crm.services.install.retention). A repeat is compared sealed too."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, fingerprint.encode(), hashlib.sha256).hexdigest()


def _repeat(earlier: Visit, fingerprint: str) -> Outcome:
    if earlier.position_coarsened_at is not None:
        fingerprint = sealed(fingerprint)
    if earlier.fingerprint != fingerprint:
        message = _(
            "This visit's key was already used for a different visit. "
            "Open the visit form again to log a new one."
        )
        raise Conflict(message, fields={"client_key": message})
    return Outcome(visit=earlier, created=False)


def _check_in_time(sent: Submission, now: datetime) -> datetime:
    if sent.checked_in_at is None:
        return now
    if not now - CHECK_IN_PAST <= sent.checked_in_at <= now + CHECK_IN_FUTURE:
        message = _(
            "The phone's clock says this visit was at %(time)s; a visit is accepted up to 30 "
            "days later. Check the phone's date and time.",
            time=sent.checked_in_at.isoformat(timespec="minutes"),
        )
        raise Invalid(message, fields={"checked_in_at": message})
    return sent.checked_in_at


def _offset_minutes(instant: datetime | None) -> int | None:
    offset = instant.utcoffset() if instant else None
    return int(offset.total_seconds() // 60) if offset is not None else None


def _tasks_to_advance(factory: Factory, task_ids: list[int]) -> list[Task]:
    wanted = sorted(set(task_ids))
    if not wanted:
        return []
    found = list(
        db.session.scalars(
            select(Task).where(Task.factory_id == factory.id, Task.id.in_(wanted)).order_by(Task.id)
        )
    )
    if len(found) != len(wanted) or any(t.kind == "measured" for t in found):
        message = _("A ticked task is not an open checklist item of this factory.")
        raise Invalid(message, fields={"task_ids": message})
    return [task for task in found if not task.is_closed]


def _follow_up_answered(factory: Factory, follow_up_id: int | None) -> FollowUp | None:
    """The follow-up the phone names; otherwise the factory's oldest open one."""
    if follow_up_id is None:
        return followups.oldest_open(factory)
    follow_up = db.session.get(FollowUp, follow_up_id)
    if follow_up is None or follow_up.factory_id != factory.id:
        message = _("The follow-up this visit answers belongs to another factory.")
        raise Invalid(message, fields={"follow_up_id": message})
    return follow_up if follow_up.status == "open" else None


def _contact(factory: Factory, contact_id: int | None) -> Contact | None:
    if contact_id is None:
        return None
    contact = db.session.get(Contact, contact_id)
    if contact is None or contact.factory_id != factory.id:
        message = _("The contact you met is not one of this factory's contacts.")
        raise Invalid(message, fields={"contact_id": message})
    return contact


def _require_photo(sent: Submission) -> None:
    if sent.purpose in settings.get("photo_required_purposes") and not sent.photos:
        message = _("A visit for this purpose needs at least one photo.")
        raise Invalid(message, fields={"photos": message})


def _capture_times(
    sent: Submission, checked_in_at: datetime, now: datetime
) -> list[tuple[datetime | None, str | None]]:
    """Each photo's capture time (the phone's reading, else the upload's own EXIF) and what it
    says against the photo. A purpose that needs a photo taken on the spot refuses a visit
    without one, by its photos."""
    if len(sent.photo_taken_at) > len(sent.photos):
        message = _("Send one capture time per photo, in the photos' order.")
        raise Invalid(message, fields={"photo_taken_at": message})
    found = []
    for index, upload in enumerate(sent.photos):
        read = sent.photo_taken_at[index] if index < len(sent.photo_taken_at) else None
        taken_at = read or photos.capture_time(upload.data)
        found.append((taken_at, photo_flags.time_flag(taken_at, checked_in_at, now)))
    if sent.purpose in settings.get("photo_on_the_spot_purposes") and not any(
        taken_at is not None and flag is None for taken_at, flag in found
    ):
        minutes = int(photo_flags.EARLY.total_seconds() // 60)
        message = _(
            "A visit for this purpose needs a photo taken on the spot: take one with the camera "
            "at the factory, at most %(minutes)d minutes before the check-in.",
            minutes=minutes,
        )
        raise Invalid(message, fields={"photos": message})
    return found


def _place(visit: Visit, factory: Factory, sent: Submission, consented: bool) -> None:
    """Distance to the factory and the off-site flag; an unplaced factory takes a precise fix.

    Without the rep's consent to precise location (crm.services.privacy.consent) no position is
    kept, whatever the phone sent: the visit is marked as checked in without one, not off-site.
    """
    if not consented:
        visit.position_withheld = True
        visit.off_site = False
        return
    visit.off_site = True  # a check-in with no position cannot show that it was on site
    if sent.lat is None or sent.lng is None:
        return
    visit.lat, visit.lng, visit.accuracy_m = sent.lat, sent.lng, sent.accuracy_m
    visit.position_at = sent.position_at
    accuracy_limit = settings.get("checkin_accuracy_m")
    precise = sent.accuracy_m is not None and sent.accuracy_m <= accuracy_limit
    age = (visit.checked_in_at - sent.position_at) if sent.position_at else None
    fresh = age is not None and age <= timedelta(seconds=settings.get("position_max_age_s"))
    if factory.lat is None or factory.lng is None:
        if not (precise and fresh):
            return
        factory.lat, factory.lng = sent.lat, sent.lng
    visit.distance_m = round(geo.distance_m(sent.lat, sent.lng, factory.lat, factory.lng), 1)
    near = visit.distance_m <= settings.get("checkin_radius_m")
    visit.off_site = not (near and precise and fresh)


def _store_photos(
    visit: Visit,
    uploads: list[photos.Upload],
    images: list[Image.Image],
    taken: list[tuple[datetime | None, str | None]],
    factory: Factory,
    rep: User,
) -> list[str]:
    stored_names: list[str] = []
    text = (
        watermark.lines(visit.checked_in_at, factory.name, visit.distance_m, rep.name, rep.locale)
        if uploads
        else []
    )
    try:
        made = []
        for upload, image, (taken_at, flag) in zip(uploads, images, taken, strict=True):
            stored = photos.store(
                upload, image, stamp=lambda picture: watermark.stamp(picture, text)
            )
            stored_names.append(stored.stored_name)
            fields = vars(stored).copy()
            phash = fields.pop("phash")
            record = VisitPhoto(
                **fields, created_at=visit.received_at, taken_at=taken_at, time_flag=flag
            )
            photo_flags.keep_hash(record, phash)
            visit.photos.append(record)
            made.append(record)
        db.session.flush()
        photo_flags.flag(visit, made)
    except Exception:
        photos.remove(stored_names)
        raise
    return stored_names


def _store_voice_note(
    visit: Visit, upload: voice_notes.Upload | None, heard: tuple[str, int] | None
) -> voice_notes.StoredVoiceNote | None:
    if upload is None:
        return None
    stored = voice_notes.store(upload, heard)
    try:
        visit.voice_note = VisitVoiceNote(**vars(stored), created_at=visit.received_at)
        db.session.flush()
    except Exception:
        voice_notes.remove(stored)
        raise
    return stored


def _advance(actor: User, visit: Visit, advanced: list[Task], now: datetime) -> None:
    for task in advanced:
        if task.kind == "video_shoot" and not task.video_url:
            task.shoot_on = task.shoot_on or clock.local(visit.checked_in_at).date()
            continue  # a shoot is done when its video is delivered, not when it is filmed
        tasks.complete(actor, task, now)
    visit.tasks = advanced


def _next_day(sent: Submission, check_in_day: date, now: datetime) -> date | None:
    """The next follow-up's day: a quick pick counts from the check-in's date, not today."""
    if sent.next_in_days is not None:
        day = check_in_day + timedelta(days=sent.next_in_days)
    elif sent.next_on is not None:
        if sent.next_on < check_in_day:
            message = _("Pick a date on or after the visit for the next follow-up.")
            raise Invalid(message, fields={"next_on": message})
        day = sent.next_on
    else:
        return None
    # A visit queued on the phone for days must not propose a follow-up in the past.
    return max(day, clock.today(now))
