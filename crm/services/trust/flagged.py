"""The review of flagged visits (issue 22, "A review of flagged visits"): a manager accepts a
flagged visit with a note, or disputes it; a dispute tells the rep, who answers; the manager then
closes it. The outcome stays on the visit, for staff only.

A visit is flagged by `flagged_condition`, the one place that says what needs a look (a check-in
off site, or a photo flagged by crm.services.trust.photo_flags); the queue, the team page's
counts and the visit's own badge all read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, case, func, or_, select, true
from sqlalchemy.orm import selectinload

from crm import scope
from crm.errors import Conflict, Invalid, NotAllowed
from crm.extensions import db
from crm.models import Factory, User, Visit, VisitPhoto, VisitReview
from crm.models.visit import REVIEW_NOTE_MAX
from crm.services.install import audit
from crm.services.notices import notifications
from crm.services.trust import photo_flags

PAGE_SIZE = 25
# What a page of the queue shows, by where each review stands.
STATES = ("to_review", "waiting", "to_close", "done")


def flagged_condition() -> ColumnElement[bool]:
    """A visit that needs a manager's look: checked in off site, or with a photo that repeats an
    earlier one (crm.services.trust.photo_flags). Written as the partial index
    `ix_visits_flagged` is (crm.models.visit.FLAGGED), so that the planners read it."""
    return or_(Visit.off_site.is_(true()), Visit.photos_doubtful.is_(true()))


def _standing():
    """Where a flagged visit's review stands, one of STATES (no review yet: to review)."""
    return case(
        (VisitReview.id.is_(None), "to_review"),
        (VisitReview.state == "disputed", "waiting"),
        (VisitReview.state == "answered", "to_close"),
        else_="done",
    )


@dataclass(frozen=True)
class FlaggedFilters:
    state: str = "to_review"
    page: int = 1


@dataclass
class FlaggedPage:
    visits: list[Visit]
    reviews: dict[int, VisitReview]
    counts: dict[str, int]  # per state, over the actor's whole scope
    filters: FlaggedFilters
    # Per visit of the page, what its photos are flagged for (photo_flags.KINDS, each once).
    photo_flags: dict[int, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.counts.get(self.filters.state, 0)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _flagged(actor: User, on: date) -> Select:
    return (
        scope.visits(actor, on)
        .outerjoin(VisitReview, VisitReview.visit_id == Visit.id)
        .where(flagged_condition())
    )


def page(actor: User, filters: FlaggedFilters, on: date) -> FlaggedPage:
    """One page of the flagged visits in the actor's scope standing where the filter says: the
    longest waiting first, the done ones newest first."""
    standing = _standing()
    counts = _counts(actor, on)
    pages = max(1, -(-counts[filters.state] // PAGE_SIZE))
    filters = replace(filters, page=min(max(filters.page, 1), pages))
    order = (
        (Visit.checked_in_at.desc(), Visit.id.desc())
        if filters.state == "done"
        else (Visit.checked_in_at, Visit.id)
    )
    statement = (
        _flagged(actor, on)
        .where(standing == filters.state)
        # The page's 25 visits' factories and reps read after the order and limit (joined,
        # every flagged visit of the belt would carry them through the sort).
        .options(
            selectinload(Visit.factory).selectinload(Factory.belt),
            selectinload(Visit.rep),
        )
        .order_by(*order)
        .limit(PAGE_SIZE)
        .offset((filters.page - 1) * PAGE_SIZE)
    )
    visits = list(db.session.scalars(statement).unique())
    ids = [visit.id for visit in visits]
    return FlaggedPage(visits, reviews_of(ids), counts, filters, photo_kinds(ids))


def photo_kinds(visit_ids: list[int]) -> dict[int, list[str]]:
    """What the visits' photos are flagged for, each kind once a visit, in KINDS' order."""
    found: dict[int, set[str]] = {}
    if visit_ids:
        for visit_id, same_as, near, time_flag in db.session.execute(
            select(
                VisitPhoto.visit_id, VisitPhoto.same_as_id, VisitPhoto.near_id, VisitPhoto.time_flag
            ).where(VisitPhoto.visit_id.in_(visit_ids))
        ):
            found.setdefault(visit_id, set()).update(photo_flags.kinds(same_as, near, time_flag))
    return {
        visit_id: [kind for kind in photo_flags.KINDS if kind in kinds]
        for visit_id, kinds in found.items()
        if kinds
    }


def _counts(actor: User, on: date) -> dict[str, int]:
    """How many flagged visits in scope stand in each state: every flagged one counted from the
    partial index alone, the reviewed ones (few) by state; the rest wait for a review."""
    flagged_visits = (
        scope.visits(actor, on).where(flagged_condition()).with_only_columns(func.count())
    )
    total = db.session.scalar(flagged_visits) or 0
    standing = _standing()
    reviewed = (
        scope.visits(actor, on)
        .join(VisitReview, VisitReview.visit_id == Visit.id)
        .where(flagged_condition())
        .with_only_columns(standing, func.count())
        .group_by(standing)
    )
    counts = dict.fromkeys(STATES, 0)
    counts.update({state: count for state, count in db.session.execute(reviewed)})
    counts["to_review"] = total - sum(counts.values())
    return counts


def reviews_of(visit_ids: list[int]) -> dict[int, VisitReview]:
    if not visit_ids:
        return {}
    statement = select(VisitReview).where(VisitReview.visit_id.in_(visit_ids))
    return {review.visit_id: review for review in db.session.scalars(statement)}


def review_of(visit: Visit) -> VisitReview | None:
    return db.session.scalar(select(VisitReview).where(VisitReview.visit_id == visit.id))


def _note(text: str, field: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise Invalid(message, fields={field: message})
    if len(text) > REVIEW_NOTE_MAX:
        too_long = _("At most %(max)d characters.", max=REVIEW_NOTE_MAX)
        raise Invalid(too_long, fields={field: too_long})
    return text


def _check_flagged(visit: Visit) -> None:
    flagged = db.session.scalar(
        select(func.count()).select_from(Visit).where(Visit.id == visit.id, flagged_condition())
    )
    if not flagged:
        raise Conflict(_("This visit is not flagged: there is nothing to review."))


def review(actor: User, visit: Visit, accept: bool, note: str, now: datetime) -> VisitReview:
    """Accept the flagged visit with a note, or dispute it (the rep is told and answers)."""
    scope.require(actor, "review_visit")
    _check_flagged(visit)
    if review_of(visit) is not None:
        raise Conflict(_("This visit was reviewed already."))
    field = "note"
    message = (
        _("Say why the visit is accepted.") if accept else _("Say what the rep should explain.")
    )
    note = _note(note, field, message)
    state = "accepted" if accept else "disputed"
    made = VisitReview(
        visit_id=visit.id, state=state, reviewer_id=actor.id, reviewed_at=now, note=note
    )
    db.session.add(made)
    db.session.flush()
    audit.record(actor, "visit", visit.id, "accept_flag" if accept else "dispute_flag")
    if not accept:
        factory = visit.factory
        notifications.notify(
            [visit.rep],
            "visit_disputed",
            lambda: _("Your visit to %(factory)s is disputed", factory=factory.name),
            factory=factory,
            link=url_for("visits.answer", visit_id=visit.id),
            body=lambda: note,
        )
    return made


def waiting_dispute(rep: User, visit: Visit) -> VisitReview:
    """The visit's dispute that waits for this rep's answer: refused for anyone but the visit's
    rep, and when no dispute waits (the answer page and the answer itself both ask)."""
    if rep.id != visit.rep_id:
        raise NotAllowed(_("Only the rep who logged a visit answers for it."))
    found = review_of(visit)
    if found is None or found.state != "disputed":
        raise Conflict(_("This visit has no dispute waiting for your answer."))
    return found


def answer(rep: User, visit: Visit, text: str, now: datetime) -> VisitReview:
    """The visit's rep answers a dispute; the reviewer is told, and closes it."""
    found = waiting_dispute(rep, visit)
    found.answer = _note(text, "answer", _("Write your answer for your manager."))
    found.state, found.answered_at = "answered", now
    audit.record(rep, "visit", visit.id, "answer_dispute")
    factory = visit.factory
    notifications.notify(
        [found.reviewer] if found.reviewer else notifications.managers_of(factory),
        "visit_answered",
        lambda: _(
            "%(rep)s answered about the visit to %(factory)s", rep=rep.name, factory=factory.name
        ),
        factory=factory,
        link=url_for("pipeline.flagged_visits", state="to_close"),
        body=lambda: found.answer,
    )
    return found


def close(actor: User, visit: Visit, note: str, now: datetime) -> VisitReview:
    """The manager closes a dispute, answered or not (a rep may be away), with an optional note."""
    scope.require(actor, "review_visit")
    found = review_of(visit)
    if found is None or found.state not in ("disputed", "answered"):
        raise Conflict(_("Only a disputed visit can be closed."))
    note = (note or "").strip()
    if len(note) > REVIEW_NOTE_MAX:
        too_long = _("At most %(max)d characters.", max=REVIEW_NOTE_MAX)
        raise Invalid(too_long, fields={"note": too_long})
    found.state, found.closed_by_id, found.closed_at, found.closing_note = (
        "closed",
        actor.id,
        now,
        note,
    )
    audit.record(actor, "visit", visit.id, "close_dispute")
    return found
