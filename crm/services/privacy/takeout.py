"""A person takes away their own data (PIPL Art. 45; issue 23): a zip made as long work, fetched
once through a link that expires.

- `ask` records a work request of kind `privacy_export` for the acting user: a factory user's
  export holds their factory's data as the portal shows it, a member of staff's their own
  account and work (crm.services.privacy.takeout_contents). Asking while one is still waiting
  or running reuses it.
- The link carries a random token, kept only as its SHA-256 in the request's arguments (as
  password reset links and API tokens are). The page that asked shows it; asking again from
  another browser gives a new token, and the earlier one stops working.
- `take` spends the link: only its asker may (anyone else: 404), once (the request's `phase`
  turns from "" to "taken" in one conditional update, so two clicks cannot both win), and
  within VALID_FOR of the export being made; a used or expired link answers 410.
- The zip is kept in the store (`takeouts/`, crm.services.storage), so that any host serves a
  zip that another made; the download deletes it, and the daily sweep (`sweep_files`) deletes
  any older than VALID_FOR, so that none stays for ever.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import clock, scope
from crm.errors import Conflict, NotFound
from crm.extensions import db
from crm.models import User, WorkRequest
from crm.services import storage
from crm.services.install import audit, work
from crm.services.privacy import takeout_contents

KIND = "privacy_export"
FOLDER = "takeouts"
VALID_FOR = timedelta(hours=24)
TAKEN = "taken"  # the request's phase once its link was used
EXPIRED = "expired"  # ...or once the daily sweep found it too old
# A token as `secrets.token_urlsafe(32)` makes it; anything else is no link of ours.
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")
RECENT = 20  # the asker's latest requests among which a link's token is looked for


class ExportGone(NotFound):
    """A link that was used already, or has expired: 410, not 404."""

    status = 410
    code = "gone"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _latest(actor: User) -> WorkRequest | None:
    return db.session.scalar(
        select(WorkRequest)
        .where(WorkRequest.kind == KIND, WorkRequest.requested_by_id == actor.id)
        .order_by(WorkRequest.created_at.desc(), WorkRequest.id.desc())
        .limit(1)
    )


def ask(actor: User, now: datetime, locale: str) -> tuple[WorkRequest, str]:
    """Ask for the actor's export (or reuse the one still waiting or running); returns the
    request and a new token for its link, shown once (the caller commits)."""
    if actor.role == "factory":
        # The export is the portal's data: a factory user out of their factory has none.
        scope.get_factory(actor, actor.factory_id or 0, clock.today(now))
    token = secrets.token_urlsafe(32)
    request = _latest(actor)
    if request is not None and request.status in ("pending", "running"):
        request.arguments = {**request.arguments, "token_hash": _hash(token)}
        db.session.flush()
        return request, token
    arguments = {
        "user_id": actor.id,
        "what": "factory" if actor.role == "factory" else "own",
        "factory_id": actor.factory_id,
        "locale": locale,
        "token_hash": _hash(token),
    }
    request = work.request(KIND, arguments, actor.id, now)
    audit.record(actor, "user", actor.id, "ask_data_export")
    return request, token


@dataclass(frozen=True)
class Shown:
    """The actor's latest export as the account page shows it."""

    request: WorkRequest
    state: str  # waiting, running, ready, taken, expired, failed
    expires_at: datetime | None


def expires_at(request: WorkRequest) -> datetime | None:
    made = request.finished_at if request.status == "done" else None
    return made + VALID_FOR if made is not None else None


def latest(actor: User, now: datetime) -> Shown | None:
    """The actor's latest export and where it stands, or None if they never asked."""
    request = _latest(actor)
    if request is None:
        return None
    until = expires_at(request)
    state = {"pending": "waiting", "running": "running", "failed": "failed"}.get(request.status)
    if state is None:
        state = "taken" if request.phase == TAKEN else "ready"
        if state == "ready" and until is not None and until <= now:
            state = "expired"
    return Shown(request, state, until)


def progress_of(shown: Shown | None) -> dict:
    """Where the latest export stands, for the page's poll: done once it is no longer at work."""
    if shown is None:
        return {"state": "none", "percent": 0, "done": True}
    busy = shown.state in ("waiting", "running")
    return {"state": shown.state, "percent": shown.request.percent, "done": not busy}


def take(actor: User, token: str, now: datetime) -> tuple[str, str]:
    """Spend the actor's link: the zip's key in the store and its download name (the caller
    commits, then sends the file and deletes it). 404 for a token that is not the actor's, 410
    once used or expired, 409 while the export is not made yet."""
    request = _find(actor, token)
    until = expires_at(request)
    if request.status in ("pending", "running"):
        raise Conflict(_("Your data is still being gathered. Try again in a moment."))
    gone = ExportGone(
        _("This download link was used already or has expired. Ask for a new export.")
    )
    if request.status != "done" or request.phase or until is None or until <= now:
        raise gone
    spent = db.session.execute(
        update(WorkRequest)
        .where(WorkRequest.id == request.id, WorkRequest.phase == "")
        .values(phase=TAKEN)
        .execution_options(synchronize_session=False)
    )
    key = key_of(str(request.result.get("file", "")))
    if spent.rowcount != 1 or not request.result.get("file") or not storage.store().exists(key):
        raise gone
    db.session.refresh(request)
    audit.record(actor, "user", actor.id, "download_data_export")
    made = clock.local(request.finished_at).strftime("%Y%m%d-%H%M")
    return key, f"data-export-{made}.zip"


def _find(actor: User, token: str) -> WorkRequest:
    missing = NotFound(_("This download link is not valid. Check that it was copied whole."))
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        raise missing
    wanted = _hash(token)
    requests = db.session.scalars(
        select(WorkRequest)
        .where(WorkRequest.kind == KIND, WorkRequest.requested_by_id == actor.id)
        .order_by(WorkRequest.id.desc())
        .limit(RECENT)
    )
    for request in requests:
        if hmac.compare_digest(str(request.arguments.get("token_hash", "")), wanted):
            return request
    raise missing


def key_of(name: str) -> str:
    """An export's key in the store (crm.services.storage): any host may serve a zip that
    another host made."""
    return f"{FOLDER}/{name}"


def sweep_files(session: Session, now: datetime) -> Iterator[dict[str, int]]:
    """The daily job's step: delete the export files older than VALID_FOR (expired, or never
    fetched), and mark the exports made before then expired (the record of processing counts
    those still waiting to be fetched)."""
    session.execute(
        update(WorkRequest)
        .where(
            WorkRequest.kind == KIND,
            WorkRequest.status == "done",
            WorkRequest.phase == "",
            WorkRequest.finished_at < now - VALID_FOR,
        )
        .values(phase=EXPIRED)
        .execution_options(synchronize_session=False)
    )
    removed = 0
    kept = storage.store()
    for entry in list(kept.list(f"{FOLDER}/")):
        if entry.modified < now - VALID_FOR:
            kept.delete(entry.key)
            removed += 1
    yield {"data_exports_removed": removed}


# --- the work request ------------------------------------------------------------------------


def _export_work(request: WorkRequest, runner=None) -> dict:
    user = db.session.get(User, request.arguments.get("user_id"))
    if user is None or not user.active or user.id != request.requested_by_id:
        raise NotFound(_("The person who asked for this export no longer has an account."))
    now = clock.now()
    with force_locale(request.arguments.get("locale") or user.locale or "en"):
        locale = str(request.arguments.get("locale") or user.locale or "en")
        if user.role == "factory":
            factory = scope.get_factory(user, user.factory_id or 0, clock.today(now))
            parts = takeout_contents.factory_parts(user, factory, now, locale)
        else:
            parts = takeout_contents.staff_parts(user, now, locale)
        name = f"{secrets.token_hex(16)}.zip"
        # Made in a temporary file (a zip is written by seeking back), then kept in the store.
        with tempfile.TemporaryFile() as made:
            _write(request, made, parts, now)
            size = made.tell()
            made.seek(0)
            storage.store().write(key_of(name), made, "application/zip")
    return {"file": name, "size": size, "made_at": now.astimezone(UTC).isoformat()}


def _write(request: WorkRequest, file: IO[bytes], parts: list, now: datetime) -> None:
    total = len(parts) + 1
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index, part in enumerate(parts):
            work.report(request, index, total, "writing")
            part.write(archive, part.name)
        evidence = any(item.startswith("evidence/") for item in archive.namelist())
        archive.writestr("README.txt", takeout_contents.readme(parts, now, evidence))
    work.report(request, total, total, "writing")


work.handles(KIND)(_export_work)
