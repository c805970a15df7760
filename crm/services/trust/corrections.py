"""A rep corrects their own visit: its text (the summary for the factory and the internal
notes), its purpose and the contact met, within a day of the server receiving it (issue 22,
"Corrections with their history"). Where and when it happened and its photos never change.

Each correction keeps the visit as it was before (a VisitCorrection) and marks the visit edited;
staff read the earlier versions beside it, the factory sees only the summary as it stands. The
audit entry names the fields changed; it copies no text (DESIGN.md: the audit log keeps no notes),
the earlier text living in the correction itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from crm.errors import Invalid, NotAllowed
from crm.extensions import db
from crm.models import Contact, User, Visit, VisitCorrection, VisitPhoto
from crm.models.visit import PURPOSES
from crm.services.install import audit, settings

# How long after the server received a visit its rep may correct it.
WINDOW = timedelta(hours=24)
# Fields whose values stay out of the audit log (texts, and the contact: a person's name): it
# says they changed; the earlier values are the correction's.
UNCOPIED = ("summary", "notes", "contact_id")


@dataclass(frozen=True)
class Correction:
    """What the rep sends: the visit's purpose, texts and contact as they should read."""

    purpose: str
    summary: str
    notes: str
    contact_id: int | None


def correctable_until(visit: Visit) -> datetime:
    return visit.received_at + WINDOW


def may_correct(user: User, visit: Visit, now: datetime) -> bool:
    """The visit's own rep, within the window: what the page offers a Correct link for."""
    return user.id == visit.rep_id and now < correctable_until(visit)


def check_may_correct(user: User, visit: Visit, now: datetime) -> None:
    """Refused: someone other than the visit's rep (a manager reads, never rewrites, a rep's
    account of a visit), or a day after the visit reached the server."""
    if user.id != visit.rep_id:
        raise NotAllowed(_("Only the rep who logged a visit can correct it."))
    if now >= correctable_until(visit):
        raise NotAllowed(
            _("A visit can be corrected for 24 hours after it was sent; this one no longer can.")
        )


def correct(actor: User, visit: Visit, sent: Correction, now: datetime) -> VisitCorrection:
    """Apply the correction and keep the visit as it was; refused by the field when the purpose
    is not one of the list, needs a photo the visit does not have, or the contact is not the
    factory's; refused when nothing would change."""
    check_may_correct(actor, visit, now)
    problems: dict[str, str] = {}
    if sent.purpose not in PURPOSES:
        problems["purpose"] = _("Choose what the visit was for.")
    elif sent.purpose in settings.get("photo_required_purposes") and not _has_photo(visit):
        problems["purpose"] = _("A visit for this purpose needs at least one photo.")
    if sent.contact_id is not None:
        contact = db.session.get(Contact, sent.contact_id)
        if contact is None or contact.factory_id != visit.factory_id:
            problems["contact_id"] = _("The contact you met is not one of this factory's contacts.")
    if problems:
        raise Invalid(next(iter(problems.values())), fields=problems)
    earlier = {
        "purpose": visit.purpose,
        "summary": visit.summary or "",
        "notes": visit.notes or "",
        "contact_id": visit.contact_id,
    }
    wanted = {
        "purpose": sent.purpose,
        "summary": sent.summary,
        "notes": sent.notes,
        "contact_id": sent.contact_id,
    }
    changed = [name for name in earlier if earlier[name] != wanted[name]]
    if not changed:
        message = _("Nothing was changed: correct the text, the purpose or the contact.")
        raise Invalid(message, fields={"summary": message})
    kept = VisitCorrection(visit_id=visit.id, corrected_by_id=actor.id, corrected_at=now, **earlier)
    db.session.add(kept)
    visit.purpose, visit.summary, visit.notes = sent.purpose, sent.summary, sent.notes
    visit.contact_id = sent.contact_id
    visit.edited_at = now
    db.session.flush()
    changes = {
        name: ("earlier", "corrected") if name in UNCOPIED else (earlier[name], wanted[name])
        for name in changed
    }
    audit.record(actor, "visit", visit.id, "correct", changes, factory_id=visit.factory_id)
    return kept


def earlier_versions(visit_ids: list[int]) -> dict[int, list[VisitCorrection]]:
    """Each visit's earlier versions, newest first, in one query (for a page of visits)."""
    if not visit_ids:
        return {}
    found: dict[int, list[VisitCorrection]] = {}
    statement = (
        select(VisitCorrection)
        .where(VisitCorrection.visit_id.in_(visit_ids))
        .order_by(VisitCorrection.corrected_at.desc(), VisitCorrection.id.desc())
    )
    for correction in db.session.scalars(statement):
        found.setdefault(correction.visit_id, []).append(correction)
    return found


def _has_photo(visit: Visit) -> bool:
    statement = select(VisitPhoto.id).where(VisitPhoto.visit_id == visit.id).limit(1)
    return db.session.scalar(statement) is not None
