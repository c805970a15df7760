"""What a person's data export holds (PIPL Art. 45): the files of the zip, written one by one.

A factory user takes away their factory's data as the portal shows it, and nothing more: the
factory, its contacts, its checklist with the evidence it handed in, and its visits as the
columns of crm.services.portal.overview.shared_visits (date, rep, purpose, shared summary).
Never internal notes, flags, distances, positions, reviews, follow-up reasons, waive reasons or
the key-account flag: each file names its columns here, so that a column added to a record
never slips into an export. A member of staff takes away their own account and their own
visits (with their notes and distances, never coordinates: staff never see those) and
follow-ups.

Each file is written into the open zip in chunks (crm.export.csv_chunks), so that a rep's years
of visits never sit in memory at once.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, select

from crm import clock, export
from crm.errors import NotFound
from crm.extensions import db
from crm.models import Contact, Factory, FollowUp, Task, User, UserSession, Visit
from crm.services import storage
from crm.services.field import photos
from crm.services.notices import mail
from crm.services.portal import overview
from crm.services.privacy import consent

BATCH = 500


@dataclass(frozen=True)
class Part:
    """One file of the export: its name in the zip, what the README says of it, its writer."""

    name: str
    about: str
    write: Callable[[zipfile.ZipFile, str], None]


def _json(archive: zipfile.ZipFile, name: str, data: dict) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=_instant)
    archive.writestr(name, text + "\n")


def _csv(
    archive: zipfile.ZipFile, name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    with archive.open(name, "w") as file:
        for chunk in export.csv_chunks(header, rows):
            file.write(chunk)


def _instant(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


# --- a factory's data -----------------------------------------------------------------------


def factory_parts(user: User, factory: Factory, now: datetime, locale: str) -> list[Part]:
    """The files of a factory user's export of their own factory."""
    return [
        Part(
            "factory.json",
            _("The factory's record, and your own account."),
            _factory(user, factory, now, locale),
        ),
        Part(
            "contacts.csv",
            _("The factory's contacts: name, role, phone, WeChat ID."),
            _contacts(factory),
        ),
        Part(
            "checklist.csv",
            _(
                "Every checklist item: stage, title, status, due date, and the evidence you "
                "handed in (link, number, note; photos are in the evidence folder)."
            ),
            _checklist(factory, locale),
        ),
        Part(
            "visits.csv",
            _("Every visit: when, who, why, and the summary your rep shared with you."),
            _shared_visits(factory),
        ),
    ]


def _factory(user: User, factory: Factory, now: datetime, locale: str):
    def write(archive: zipfile.ZipFile, name: str) -> None:
        rep = factory.owner
        _json(
            archive,
            name,
            {
                "exported_at": now,
                "factory": {
                    "name": factory.name,
                    "credit_code": factory.credit_code,
                    "belt": factory.belt.name_for(locale) if factory.belt else None,
                    "category": factory.category,
                    "address": factory.address,
                    "shop_link": factory.shop_url,
                    "status": factory.status,
                    "stage": factory.stage,
                    "stage_entered_at": factory.stage_entered_at,
                },
                "rep": {"name": rep.name, "phone": rep.phone} if rep else None,
                "you": {
                    "name": user.name,
                    "login": user.login,
                    "language": user.locale,
                    "owner": user.is_factory_owner,
                },
            },
        )

    return write


def _contacts(factory: Factory):
    statement = (
        select(Contact.name, Contact.role, Contact.phone, Contact.wechat_id)
        .where(Contact.factory_id == factory.id)
        .order_by(Contact.id)
    )
    return _table(("name", "role", "phone", "wechat_id"), statement)


def _checklist(factory: Factory, locale: str):
    """The portal's columns of every task: a send-back reason only while the task is open (the
    portal shows it then), never a waive reason, who verified it, or the video's staff fields."""

    def write(archive: zipfile.ZipFile, name: str) -> None:
        tasks = db.session.execute(
            select(
                Task.id,
                Task.stage,
                Task.title_zh if locale.startswith("zh") else Task.title_en,
                Task.required,
                Task.status,
                Task.due_on,
                Task.evidence_link,
                Task.evidence_number,
                Task.evidence_note,
                Task.evidence_file,
                Task.send_back_reason,
            )
            .where(Task.factory_id == factory.id)
            .order_by(Task.stage.is_(None), Task.due_on.is_(None), Task.due_on, Task.id)
        ).all()
        rows = []
        for task_id, stage, title, required, status, due, link, number, note, file, reason in tasks:
            photo = _evidence_photo(archive, task_id, file)
            sent_back = reason if status == "open" else None
            rows.append((stage, title, required, status, due, link, number, note, photo, sent_back))
        header = (
            "stage",
            "title",
            "required",
            "status",
            "due_on",
            "evidence_link",
            "evidence_number",
            "evidence_note",
            "evidence_photo",
            "sent_back_reason",
        )
        _csv(archive, name, header, rows)

    return write


def _evidence_photo(archive: zipfile.ZipFile, task_id: int, stored_name: str | None) -> str:
    """The photo handed in for a task, copied into the zip; its name there ('' if none)."""
    if not stored_name:
        return ""
    try:
        data = storage.store().read(photos.key_of(stored_name))
    except NotFound:
        return ""
    name = f"evidence/task-{task_id}.jpg"
    archive.writestr(name, data)
    return name


def _shared_visits(factory: Factory):
    def write(archive: zipfile.ZipFile, name: str) -> None:
        rows = (
            (visit.checked_in_at, visit.rep_name, visit.purpose, visit.summary)
            for visit in overview.shared_visits(factory, limit=None)
        )
        _csv(archive, name, ("checked_in_at", "rep", "purpose", "summary"), rows)

    return write


# --- a member of staff's own data -----------------------------------------------------------


def staff_parts(user: User, now: datetime, locale: str) -> list[Part]:
    """The files of a member of staff's export of their own account and work."""
    return [
        Part(
            "account.json",
            _(
                "Your account: name, login, role, team, language, e-mail choices, consent to "
                "location at check-in, and signed-in devices."
            ),
            _account(user, now, locale),
        ),
        Part(
            "visits.csv",
            _(
                "Your visits: when, which factory, why, the shared summary, your notes, the "
                "distance to the factory and whether it was off-site or without a position "
                "(no coordinates: no one sees those)."
            ),
            _own_visits(user),
        ),
        Part(
            "follow_ups.csv",
            _("Your follow-ups: due, factory, reason, origin, status."),
            _own_follow_ups(user),
        ),
    ]


def _account(user: User, now: datetime, locale: str):
    def write(archive: zipfile.ZipFile, name: str) -> None:
        state = consent.state(user)
        devices = db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id)
            .order_by(UserSession.created_at.desc())
        )
        teams = [user.team] if user.team else list(user.led_teams or [])
        _json(
            archive,
            name,
            {
                "exported_at": now,
                "name": user.name,
                "email": user.email,
                "phone": user.phone,
                "role": user.role,
                "teams": [team.name for team in teams],
                "language": user.locale,
                "email_choices": list(mail.email_kinds(user)),
                "created_at": user.created_at,
                "last_login_at": user.last_login_at,
                "location_consent": {
                    "notice_version": state.notice,
                    "consents_now": state.given_at is not None,
                    "given_at": user.location_consent_at,
                    "withdrawn_at": user.location_withdrawn_at,
                },
                "devices": [
                    {
                        "browser": device.user_agent,
                        "address": device.address,
                        "signed_in_at": device.created_at,
                        "last_seen_at": device.last_seen_at,
                        "ended_at": device.revoked_at,
                    }
                    for device in devices
                ],
            },
        )

    return write


# A member of staff's own rows, by the file's columns: never a visit's coordinates.
OWN_VISITS = {
    "checked_in_at": Visit.checked_in_at,
    "factory": Factory.name,
    "purpose": Visit.purpose,
    "summary": Visit.summary,
    "notes": Visit.notes,
    "distance_m": Visit.distance_m,
    "off_site": Visit.off_site,
    "position_not_shared": Visit.position_withheld,
}
OWN_FOLLOW_UPS = {
    "due_at": FollowUp.due_at,
    "factory": Factory.name,
    "reason": FollowUp.reason,
    "origin": FollowUp.origin,
    "status": FollowUp.status,
    "completed_at": FollowUp.completed_at,
}


def _own_visits(user: User):
    return _own_rows(OWN_VISITS, Visit.factory_id, Visit.rep_id == user.id, Visit.checked_in_at)


def _own_follow_ups(user: User):
    return _own_rows(
        OWN_FOLLOW_UPS, FollowUp.factory_id, FollowUp.assignee_id == user.id, FollowUp.due_at
    )


def _own_rows(columns: dict[str, Any], factory_id: Any, owned: Any, order: Any):
    """A CSV of the user's own rows of a record, with each row's factory by name, oldest first."""
    statement = (
        select(*columns.values())
        .join(Factory, Factory.id == factory_id)
        .where(owned)
        .order_by(order, factory_id.table.c.id)
    )
    return _table(tuple(columns), statement)


def _table(header: tuple[str, ...], statement: Select):
    """A CSV of a query's rows, read in batches."""

    def write(archive: zipfile.ZipFile, name: str) -> None:
        rows = db.session.execute(statement.execution_options(yield_per=BATCH))
        _csv(archive, name, header, rows)

    return write


def readme(parts: list[Part], now: datetime, evidence: bool) -> str:
    """README.txt: what each file holds and when the export was made, in the reader's language."""
    made = clock.local(now).strftime("%Y-%m-%d %H:%M")
    lines = [
        _(
            "Your data from Factory Growth CRM, made %(when)s (%(zone)s).",
            when=made,
            zone=clock.zone().key,
        ),
        "",
        *(f"{part.name}: {part.about}" for part in parts),
    ]
    if evidence:
        lines.append(_("evidence/: the photos you handed in, named by checklist item."))
    lines += [
        "",
        _(
            "CSV files are UTF-8 with a byte-order mark; times are in UTC (ISO 8601). A text "
            "that a spreadsheet could run as a formula starts with an apostrophe."
        ),
    ]
    return "\n".join(lines) + "\n"
