"""Small builders for test records (not "factories": that word belongs to the domain)."""

from __future__ import annotations

import hashlib
import io
import itertools
from datetime import UTC, date, datetime, timedelta
from functools import cache

from werkzeug.security import generate_password_hash

from crm.extensions import db
from crm.models import (
    Belt,
    Contact,
    Factory,
    FactoryClosure,
    FollowUp,
    ImportRow,
    ImportRun,
    Leave,
    Setting,
    StageChange,
    Task,
    Team,
    User,
    Visit,
    VisitPhoto,
    VisitVoiceNote,
)
from crm.services.factories.credit_code import check_digit, organisation_check
from crm.services.field import photos, voice_notes
from crm.services.privacy import consent

PASSWORD = "test-pass-2026!"
# When the builders' staff consented to location at check-in: before any test's clock.
CONSENTED_AT = datetime(2020, 1, 1, tzinfo=UTC)
_sequence = itertools.count(1)


@cache
def password_hash() -> str:
    # Hashing is slow on purpose; every test user shares this one hash, made with
    # cheaper scrypt parameters (the verifier reads them from the hash itself).
    return generate_password_hash(PASSWORD, method="scrypt:1024:8:1")


def credit_code(n: int | None = None) -> str:
    n = next(_sequence) if n is None else n
    organisation = f"MA{n % 1_000_000:06d}"
    first17 = f"91330700{organisation}{organisation_check(organisation)}"
    return first17 + check_digit(first17)


def allow_local_robots(allowed: bool = True) -> None:
    """Let team robots post to the local receiver (tests/receiver.py: http on 127.0.0.1)."""
    db.session.merge(Setting(key="webhook_private_hosts_allowed", value=allowed))
    db.session.flush()


def team(name: str | None = None) -> Team:
    record = Team(name=name or f"Team {next(_sequence)}")
    db.session.add(record)
    db.session.flush()
    return record


def belt(team_: Team | None = None, code: str | None = None) -> Belt:
    n = next(_sequence)
    record = Belt(
        code=code or f"belt-{n}",
        name_zh=f"产业带{n}",
        name_en=f"Belt {n}",
        city_zh="宁波市",
        city_en="Ningbo",
        province_zh="浙江省",
        province_en="Zhejiang",
        category_zh="五金",
        category_en="hardware",
        lat=29.87,
        lng=121.55,
        team=team_,
    )
    db.session.add(record)
    db.session.flush()
    return record


def user(
    role: str,
    *,
    team_: Team | None = None,
    leads: list[Team] | None = None,
    factory: Factory | None = None,
    email: str | None = None,
    active: bool = True,
    locale: str | None = None,
    location_consent: bool = True,
) -> User:
    """A user; staff consent to location at check-in (crm.services.privacy.consent) unless
    `location_consent=False`, as most tests check in with a position."""
    n = next(_sequence)
    record = User(
        role=role,
        name=f"{role.title()} {n}",
        email=email or f"{role}{n}@example.test",
        password_hash=password_hash(),
        team=team_ if role == "rep" else None,
        factory_id=factory.id if factory else None,
        is_factory_owner=bool(factory),
        active=active,
        locale=locale,
    )
    if location_consent and role in consent.ASKED_ROLES:
        record.location_consent_version = consent.NOTICE_VERSION
        record.location_consent_at = CONSENTED_AT
    if leads:
        record.led_teams = list(leads)
    db.session.add(record)
    db.session.flush()
    return record


def factory(
    belt_: Belt,
    *,
    owner: User | None = None,
    status: str = "active",
    stage: str | None = "elementary",
    name: str | None = None,
    **fields,
) -> Factory:
    n = next(_sequence)
    record = Factory(
        name=name or f"Factory {n}",
        credit_code=credit_code(n),
        belt=belt_,
        owner=owner,
        status=status,
        stage=None if status == "prospect" else stage,
        stage_entered_at=None if status == "prospect" else datetime.now(UTC) - timedelta(days=30),
        **fields,
    )
    db.session.add(record)
    db.session.flush()
    return record


def follow_up(
    factory_: Factory, assignee: User, due_at: datetime, reason: str = "Check in"
) -> FollowUp:
    record = FollowUp(
        factory=factory_, assignee=assignee, due_at=due_at, reason=reason, origin="manual"
    )
    db.session.add(record)
    db.session.flush()
    return record


def closure(factory_: Factory, starts_on: date, ends_on: date, reason: str = "") -> FactoryClosure:
    record = FactoryClosure(
        factory_id=factory_.id, starts_on=starts_on, ends_on=ends_on, reason=reason
    )
    db.session.add(record)
    db.session.flush()
    return record


def leave(rep: User, stand_in: User, starts_on: date, ends_on: date) -> Leave:
    record = Leave(rep_id=rep.id, stand_in_id=stand_in.id, starts_on=starts_on, ends_on=ends_on)
    db.session.add(record)
    db.session.flush()
    return record


def task(
    factory_: Factory,
    title: str = "Shop opened",
    status: str = "open",
    required: bool = True,
    **fields,
) -> Task:
    if status == "waived":
        fields.setdefault("waive_reason", "Waived for the test")
    fields.setdefault("kind", "custom")
    record = Task(
        factory=factory_,
        title_en=title,
        title_zh=title,
        required=required,
        status=status,
        stage=factory_.stage,
        **fields,
    )
    db.session.add(record)
    db.session.flush()
    return record


def visit(
    factory_: Factory,
    rep: User,
    *,
    purpose: str = "follow_up",
    checked_in_at: datetime | None = None,
    **fields,
) -> Visit:
    n = next(_sequence)
    record = Visit(
        factory=factory_,
        rep=rep,
        purpose=purpose,
        checked_in_at=checked_in_at or datetime.now(UTC) - timedelta(days=1),
        client_key=f"builder-{n}",
        fingerprint=f"{n:064d}",
        **fields,
    )
    db.session.add(record)
    db.session.flush()
    return record


def contact(factory_: Factory, name: str = "王经理", phone: str = "138 0000 0000") -> Contact:
    record = Contact(
        factory=factory_, name=name, role="Owner", phone=phone, phone_digits=phone.replace(" ", "")
    )
    db.session.add(record)
    db.session.flush()
    return record


def image_bytes(width: int = 40, height: int = 30, kind: str = "JPEG", **save) -> bytes:
    """A small real image, as a phone would send it."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, kind, **save)
    return buffer.getvalue()


def audio_bytes(
    seconds: float = 1.5, container: str = "webm", rate: int = 48_000, tone: float = 440.0
) -> bytes:
    """A real recording made with PyAV: a sine tone (silence when tone is 0), opus in WebM or
    Ogg, AAC in MP4, as a phone's MediaRecorder would send it."""
    import math

    import av

    codec = {"webm": "libopus", "ogg": "libopus", "mp4": "aac"}[container]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=rate, layout="mono")
        frame_size = stream.codec_context.frame_size or 1024
        total = int(seconds * rate)
        for start in range(0, total, frame_size):
            count = min(frame_size, total - start)
            samples = bytearray()
            for index in range(start, start + count):
                value = int(8000 * math.sin(2 * math.pi * tone * index / rate)) if tone else 0
                samples += value.to_bytes(2, "little", signed=True)
            frame = av.AudioFrame(format="s16", layout="mono", samples=count)
            frame.planes[0].update(
                bytes(samples) + bytes(frame.planes[0].buffer_size - len(samples))
            )
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def visit_voice_note(visit_: Visit) -> VisitVoiceNote:
    """A stored voice note of a visit, its file written under the storage root."""
    data = audio_bytes()
    stored = voice_notes.store(
        voice_notes.Upload(data=data, sha256=hashlib.sha256(data).hexdigest())
    )
    record = VisitVoiceNote(visit=visit_, **vars(stored))
    db.session.add(record)
    db.session.flush()
    return record


def visit_photo(visit_: Visit) -> VisitPhoto:
    """A stored photo of a visit, its file written under the storage root."""
    data = image_bytes()
    stored = photos.store(photos.Upload(data=data, sha256=hashlib.sha256(data).hexdigest()))
    record = VisitPhoto(visit=visit_, **vars(stored))
    db.session.add(record)
    db.session.flush()
    return record


def stage_change(
    factory_: Factory,
    by: User,
    decided_by: User,
    at: datetime,
    decision: str = "approved",
    to_stage: str = "junior",
    **fields,
) -> StageChange:
    """A promotion of an elementary factory, asked for by `by` and decided an hour later."""
    record = StageChange(
        factory_id=factory_.id,
        from_status="active",
        from_stage="elementary",
        to_status="active",
        to_stage=to_stage,
        requested_by_id=by.id,
        requested_at=at - timedelta(hours=1),
        decision=decision,
        decided_by_id=decided_by.id,
        decided_at=at,
        **fields,
    )
    db.session.add(record)
    return record


def import_run(by: User, kind: str = "factories") -> ImportRun:
    """A staged, unchecked upload of one factory row."""
    record = ImportRun(
        kind=kind,
        created_by_id=by.id,
        filename="factories.csv",
        headers=["统一社会信用代码", "企业名称", "产业带"],
        mapping=["credit_code", "name", "belt"],
        total_rows=1,
    )
    db.session.add(record)
    db.session.flush()
    db.session.add(
        ImportRow(run_id=record.id, line=2, cells=[credit_code(), "Imported Factory", "belt-x"])
    )
    db.session.flush()
    return record
