"""The staff's factory page as one view model, loaded with a fixed number of queries.

Everything the page shows is gathered here with its eager loading decided once, so
that the template never queries per row (STYLE.md): the factory with its belt, owner
and contacts; eligibility and the checklist judged against the latest figures; six
months of figures per measured metric, drawn as sparklines; the latest visits and a
history that merges stage changes with visits.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload

from crm import clock, scope, statements
from crm.extensions import db
from crm.models import (
    STAGES,
    Factory,
    FollowUp,
    Metric,
    StageChange,
    User,
    Visit,
    VisitCorrection,
    VisitPhoto,
    VisitReview,
    VisitVoiceNote,
)
from crm.services.field import followups
from crm.services.growth import eligibility, promotions, snapshots
from crm.services.growth.eligibility import Eligibility, Item
from crm.services.growth.figures import Figure, checklist, measured_figures, shift_month
from crm.services.trust import corrections, photo_flags

TIMELINE_LIMIT = 20
LATEST_VISITS = 3


@dataclass(frozen=True)
class VisitRow:
    """A visit as the page shows it (the history, the latest visits): its columns as values;
    only the latest visits carry their photos' ids and voice note's length."""

    id: int
    checked_in_at: datetime
    purpose: str
    off_site: bool
    distance_m: float | None
    summary: str
    rep_name: str
    rep_id: int | None = None
    received_at: datetime | None = None
    edited_at: datetime | None = None  # corrected by its rep (crm.services.trust.corrections)
    position_withheld: bool = False  # checked in without a position (no consent to share one)
    # Its photos and voice note deleted past their period (crm.services.install.retention).
    media_deleted_at: datetime | None = None
    photo_ids: tuple[int, ...] = ()
    voice_note_ms: int | None = None
    earlier: tuple[VisitCorrection, ...] = ()  # its versions before each correction, newest first
    review: VisitReview | None = None  # a flagged visit's review (crm.services.trust.flagged)
    doubtful: dict[int, str] = field(default_factory=dict)  # photo id -> photo_flags.KINDS


# What a VisitRow reads, in its fields' order.
_VISIT_COLUMNS = (
    Visit.id,
    Visit.checked_in_at,
    Visit.purpose,
    Visit.off_site,
    Visit.distance_m,
    Visit.summary,
    User.name,
    Visit.rep_id,
    Visit.received_at,
    Visit.edited_at,
    Visit.position_withheld,
    Visit.media_deleted_at,
)


@dataclass
class TimelineEntry:
    at: datetime
    change: StageChange | None = None
    visit: VisitRow | None = None


@dataclass
class FactoryPage:
    factory: Factory
    eligibility: Eligibility
    checklist: list[Item]
    blocking: list[str]  # the blocking items in words, in the reader's language
    metrics: dict[str, Metric]
    figures: list[Figure]
    days_in_stage: int | None
    next_follow_up: FollowUp | None
    visits: list[VisitRow]
    timeline: list[TimelineEntry]
    pending: StageChange | None
    next_stage: str | None  # where a promotion (or a prospect's signing) would move it
    can_request: bool
    can_promote: bool
    can_decide: bool
    can_enter_figures: bool
    overdue: bool = False
    stage_items: list[Item] = field(default_factory=list)
    planned: FollowUp | None = None  # a visit a manager planned for the rep (stuck list)

    @property
    def required_total(self) -> int:
        return sum(1 for item in self.stage_items if item.task.required)

    @property
    def required_done(self) -> int:
        return sum(1 for item in self.stage_items if item.task.required and item.satisfied)

    @property
    def percent(self) -> int:
        total = self.required_total
        return round(100 * self.required_done / total) if total else 0


def build(actor: User, factory: Factory, now: datetime, locale: str) -> FactoryPage:
    """Everything the factory page shows to this member of staff, at this instant."""
    _load_relations(factory)
    metrics = snapshots.metric_catalogue()
    result, items, unstaged = checklist(factory, now)
    changes = _changes(factory)
    pending = promotions.pending_among(factory, changes, TIMELINE_LIMIT)
    next_stage = _next_stage(factory, result)
    visits = _visits(factory)
    follow_up, planned = followups.next_and_planned(factory)
    may_move = pending is None and next_stage is not None
    return FactoryPage(
        factory=factory,
        eligibility=result,
        checklist=items + unstaged,
        stage_items=items,
        blocking=eligibility.explain_all(result.blocking, metrics, locale),
        metrics=metrics,
        figures=measured_figures(factory, items, metrics, now),
        days_in_stage=days_in_stage(factory, now),
        next_follow_up=follow_up,
        overdue=follow_up is not None and follow_up.due_at < now,
        planned=planned,
        visits=_with_media(visits[:LATEST_VISITS]),
        timeline=_timeline(changes, visits),
        pending=pending,
        next_stage=next_stage,
        can_request=(
            may_move
            and scope.may(actor, "request_stage_change")
            and (result.eligible or factory.status == "prospect")
        ),
        can_promote=may_move and scope.may(actor, "decide_stage_change"),
        can_decide=scope.may(actor, "decide_stage_change"),
        can_enter_figures=scope.may(actor, "enter_snapshot"),
    )


def metric_choices(locale: str, metrics: dict[str, Metric] | None = None) -> list[tuple[str, str]]:
    """The metrics a figure can be entered for, named in the reader's language."""
    metrics = snapshots.metric_catalogue() if metrics is None else metrics
    return [(code, metric.name_for(locale)) for code, metric in metrics.items()]


def default_month(now: datetime) -> date:
    """Last month: the newest month whose figures are complete."""
    return shift_month(clock.today(now).replace(day=1), -1)


def days_in_stage(factory: Factory, now: datetime) -> int | None:
    """Whole days since the factory entered its stage, without the days it spent paused."""
    if factory.stage_entered_at is None:
        return None
    days = (now - factory.stage_entered_at).days - factory.paused_days
    if factory.status == "paused" and factory.paused_at is not None:
        days -= (now - factory.paused_at).days  # the pause under way does not count either
    return max(days, 0)


# --- loading ------------------------------------------------------------------------------


def loading() -> tuple:
    """What the page reads of the factory, to load with it in one statement (scope.get_factory's
    options): a factory has a few contacts, each a row of the join."""
    return joinedload(Factory.belt), joinedload(Factory.owner), joinedload(Factory.contacts)


def _load_relations(factory: Factory) -> None:
    """Belt, owner and contacts in one round, onto the factory the scoped getter returned,
    unless it loaded them already (loading())."""
    if not {"belt", "owner", "contacts"} & db.inspect(factory).unloaded:
        return
    statement = select(Factory).where(Factory.id == factory.id).options(*loading())
    db.session.execute(statement).unique().scalar_one()


def _next_stage(factory: Factory, result: Eligibility) -> str | None:
    if factory.status == "prospect":
        return STAGES[0]
    return result.next_stage


def _visits(factory: Factory) -> list[VisitRow]:
    """The newest visits of the history, with their reps' names, their voice notes' lengths
    and their reviews (a visit has at most one of each)."""
    rows = db.session.execute(_visits_statement(), {"factory_id": factory.id})
    shown = len(_VISIT_COLUMNS)
    return [VisitRow(*row[:shown], voice_note_ms=row[shown], review=row[shown + 1]) for row in rows]


# The page's statements are built once per process (crm.statements), the factory bound.


@statements.once
def _visits_statement() -> Select:
    return (
        select(*_VISIT_COLUMNS, VisitVoiceNote.duration_ms, VisitReview)
        .join(User, User.id == Visit.rep_id)
        .outerjoin(VisitVoiceNote, VisitVoiceNote.visit_id == Visit.id)
        .outerjoin(VisitReview, VisitReview.visit_id == Visit.id)
        .options(joinedload(VisitReview.reviewer))
        .where(Visit.factory_id == bindparam("factory_id"))
        .order_by(Visit.checked_in_at.desc(), Visit.id.desc())
        .limit(TIMELINE_LIMIT)
    )


def _with_media(visits: list[VisitRow]) -> list[VisitRow]:
    """The latest visits with their photos' ids and their earlier versions."""
    ids = [visit.id for visit in visits]
    if not ids:
        return []
    photos: dict[int, list[int]] = {}
    doubtful: dict[int, str] = {}
    for visit_id, photo_id, same_as, near, time_flag in db.session.execute(
        _photos_statement(), {"ids": ids}
    ):
        photos.setdefault(visit_id, []).append(photo_id)
        if flag := photo_flags.kind(same_as, near, time_flag):
            doubtful[photo_id] = flag
    edited = corrections.earlier_versions([visit.id for visit in visits if visit.edited_at])
    return [
        replace(
            visit,
            photo_ids=tuple(photos.get(visit.id, ())),
            earlier=tuple(edited.get(visit.id, ())),
            doubtful={i: doubtful[i] for i in photos.get(visit.id, ()) if i in doubtful},
        )
        for visit in visits
    ]


@statements.once
def _photos_statement() -> Select:
    return (
        select(
            VisitPhoto.visit_id,
            VisitPhoto.id,
            VisitPhoto.same_as_id,
            VisitPhoto.near_id,
            VisitPhoto.time_flag,
        )
        .where(VisitPhoto.visit_id.in_(bindparam("ids", expanding=True)))
        .order_by(VisitPhoto.id)
    )


def _changes(factory: Factory) -> list[StageChange]:
    """The factory's newest TIMELINE_LIMIT stage changes, by request time."""
    return list(db.session.scalars(_changes_statement(), {"factory_id": factory.id}))


def _timeline(changes: list[StageChange], visits: list[VisitRow]) -> list[TimelineEntry]:
    """Stage changes and visits, newest first, at most TIMELINE_LIMIT entries."""
    entries = [TimelineEntry(c.decided_at or c.requested_at, change=c) for c in changes]
    entries += [TimelineEntry(visit.checked_in_at, visit=visit) for visit in visits]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:TIMELINE_LIMIT]


@statements.once
def _changes_statement() -> Select:
    return (
        select(StageChange)
        .where(StageChange.factory_id == bindparam("factory_id"))
        .options(joinedload(StageChange.requested_by), joinedload(StageChange.decided_by))
        .order_by(StageChange.requested_at.desc(), StageChange.id.desc())
        .limit(TIMELINE_LIMIT)
    )
