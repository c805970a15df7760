"""Early every morning: the cadence sweep, stale factories, promotion eligibility, orphan files.

Set-based and batched, for an install of 100,000 factories: each step finds its rows with
one indexed query per batch (walking factory ids upwards), never a query per factory.

- Cadence (DESIGN.md "Cadence"): an active factory in a stage, or a prospect, that a rep
  owns and that has no open follow-up gets one, due its stage's cadence after its last
  visit, or today if that is past (due dates land on the factory's working days:
  crm.services.field.followups.due_instant). The new follow-up is the factory's only open one,
  so it is also its `next_follow_up_at`.
- Stale: the factories that became stale within the last week are notified to their rep (to
  the stand-in while the rep is on leave), once per stale spell (the key names the last
  visit). The flags on lists are derived live (crm.services.factories.list_filters); nothing
  is stored here but the notification.
- Eligibility is worked out again (crm.services.growth.eligibility, in batches) for the active
  factories below the last stage that could be eligible: those marked eligible (time alone
  can take it away, as figures age past the freshness window) and those with no required
  item of their stage still to do but measured ones (which only the judgement settles).
  A factory with a required task open cannot be eligible, so judging it would be waste:
  at 100,000 factories that filter is what keeps the sweep within seconds. The managers over
  the factories that became eligible hear of them in one summary a day
  (crm.jobs.eligible_summary), never a notice per factory. Each team's group robot
  (crm.services.notices.webhooks) gets one message a day naming the factories that became
  eligible.
- Upload files that no row names, a day to a week old, are deleted
  (crm.services.install.stored_files: what a failed commit leaves behind), and so are the data
  exports older than a day that nobody fetched (crm.services.privacy.takeout).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import and_, exists, insert, not_, or_, select, update
from sqlalchemy.orm import Session, joinedload

from crm import clock
from crm.jobs.notices import Notice, send_once
from crm.jobs.reminders import stand_ins_on
from crm.models import PROSPECT, STAGES, Belt, Factory, FollowUp, Task, User
from crm.services.calendar import working_days
from crm.services.factories import list_filters
from crm.services.field import followups
from crm.services.growth import eligibility
from crm.services.install import audit, stored_files
from crm.services.notices import webhooks
from crm.services.notices.one_line import one_line
from crm.services.privacy import takeout

ACTOR = "daily"  # the audit log's actor: this job, acting as the system
BATCH = 1000
ELIGIBILITY_BATCH = 500
STALE_LOOKBACK = timedelta(days=7)


def run(session: Session, now: datetime) -> Iterator[dict[str, int]]:
    yield from sweep_cadence(session, now)
    yield from notify_stale(session, now)
    yield from refresh_eligibility(session, now)
    yield {"team_webhooks": queue_team_eligible(session, now)}
    yield from stored_files.sweep_orphans(session, now)
    yield from takeout.sweep_files(session, now)


# --- cadence ----------------------------------------------------------------------------------


def _needs_follow_up() -> list:
    open_follow_up = exists().where(FollowUp.factory_id == Factory.id, FollowUp.status == "open")
    return [
        or_(
            and_(Factory.status == "active", Factory.stage.is_not(None)),
            Factory.status == "prospect",
        ),
        Factory.owner_id.is_not(None),
        ~open_follow_up,
    ]


def in_chunks(
    session: Session, conditions: list, size: int = BATCH, *options
) -> Iterator[list[Factory]]:
    """The factories that meet the conditions, a chunk at a time.

    Their ids are found in one query, then each chunk is loaded by its ids with the
    conditions checked again (a rep may have acted since): one scan of the table, rather
    than a scan per batch that PostgreSQL would sort again each time.
    """
    ids = session.scalars(select(Factory.id).where(*conditions).order_by(Factory.id)).all()
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        yield session.scalars(
            select(Factory)
            .where(Factory.id.in_(chunk), *conditions)
            .options(*options)
            .order_by(Factory.id)
        ).all()


def _owned_by_active_rep() -> list:
    return [Factory.owner_id.in_(select(User.id).where(User.active.is_(True)))]


def sweep_cadence(session: Session, now: datetime) -> Iterator[dict[str, int]]:
    cadences = list_filters.cadences()
    today = clock.today(now)
    conditions = [*_needs_follow_up(), *_owned_by_active_rep()]
    for batch in in_chunks(session, conditions, BATCH, joinedload(Factory.owner)):
        rows = []
        # The batch's calendar in one read: the marked days and these factories' closures.
        calendar = working_days.load(today, [factory.id for factory in batch])
        due_cache: dict[tuple[date, int | None], datetime] = {}
        for factory in batch:
            days = cadences.get(factory.stage or PROSPECT, cadences["prospect"])
            day = today
            if factory.last_visit_at is not None:
                day = max(today, clock.today(factory.last_visit_at) + timedelta(days=days))
            # The due instant depends on the day and the factory's closures alone.
            cache_key = (day, factory.id if factory.id in calendar.closures else None)
            if cache_key not in due_cache:
                due_cache[cache_key] = followups.due_instant(factory, day, calendar)
            with force_locale(factory.owner.locale or "en"):
                reason = _("Regular visit (every %(days)d days)", days=days)
            rows.append(
                {
                    "factory_id": factory.id,
                    "assignee_id": factory.owner_id,
                    "due_at": due_cache[cache_key],
                    "reason": reason,
                    "origin": "cadence",
                    "status": "open",
                    "created_at": now,
                }
            )
        # Set-based: one multi-row insert for the batch, one bulk update of the factories.
        made = session.execute(insert(FollowUp).returning(FollowUp.id, FollowUp.factory_id), rows)
        created = {factory_id: follow_up_id for follow_up_id, factory_id in made}
        for row in rows:
            snapshot = {name: row.get(name) for name in followups.TRACKED}
            follow_up_id = created[row["factory_id"]]
            audit.record(ACTOR, "follow_up", follow_up_id, "schedule", audit.diff({}, snapshot))
        # Each factory had no open follow-up (checked as the batch was loaded), so the new one
        # is its earliest: what followups.refresh_next would store, by primary key in bulk.
        session.execute(
            update(Factory),
            [{"id": row["factory_id"], "next_follow_up_at": row["due_at"]} for row in rows],
        )
        session.flush()
        yield {"follow_ups_created": len(rows)}
    yield {"follow_ups_created": 0}  # the step's end, for the run's timings


# --- stale ------------------------------------------------------------------------------------


def notify_stale(session: Session, now: datetime) -> Iterator[dict[str, int]]:
    became_stale = and_(
        list_filters.stale_condition(list_filters.stale_thresholds(now)),
        not_(list_filters.stale_condition(list_filters.stale_thresholds(now - STALE_LOOKBACK))),
    )
    conditions = [became_stale, *_owned_by_active_rep()]
    for batch in in_chunks(session, conditions, BATCH, joinedload(Factory.owner)):
        # A rep on leave is not told: their stand-in is (crm.jobs.reminders.stand_ins_on).
        away = stand_ins_on(session, {factory.owner_id for factory in batch}, clock.today(now))
        notices = (
            _stale_notice(factory, now, away.get(factory.owner_id, factory.owner))
            for factory in batch
        )
        yield {"stale_notified": send_once(notices)}
    yield {"stale_notified": 0}


def _stale_notice(factory: Factory, now: datetime, recipient: User) -> Notice:
    since = factory.last_visit_at or factory.stage_entered_at or factory.created_at
    days = (now - since).days
    if factory.last_visit_at is None:

        def title() -> str:
            return _("%(factory)s has never been visited", factory=factory.name)

    else:

        def title() -> str:
            return _(
                "%(factory)s has not been visited for %(days)d days",
                factory=factory.name,
                days=days,
            )

    return Notice(
        user=recipient,
        kind="factory_stale",
        key=f"factory_stale:{factory.id}:{since:%Y%m%dT%H%M%S}",
        title=title,
        factory=factory,
    )


# --- eligibility ------------------------------------------------------------------------------


def refresh_eligibility(session: Session, now: datetime) -> Iterator[dict[str, int]]:
    open_required = exists().where(
        Task.factory_id == Factory.id,
        Task.stage == Factory.stage,
        Task.required.is_(True),
        Task.kind != "measured",
        Task.status.not_in(("done", "waived")),
    )
    candidates = [
        Factory.status == "active",
        Factory.stage.in_(STAGES[:-1]),
        or_(Factory.eligible_since.is_not(None), ~open_required),
    ]
    for batch in in_chunks(session, candidates, ELIGIBILITY_BATCH):
        results = eligibility.evaluate_many(batch, now)
        found, lost = 0, 0
        for factory in batch:
            # The rule of crm.services.growth.eligibility.refresh, for a batch at once.
            if results[factory.id].eligible:
                if factory.eligible_since is None:
                    factory.eligible_since = now
                    found += 1
            elif factory.eligible_since is not None:
                factory.eligible_since = None
                lost += 1
        session.flush()
        yield {"eligible_found": found, "eligibility_lost": lost}
    yield {"eligible_found": 0, "eligibility_lost": 0}


# --- team group chats -------------------------------------------------------------------------

LISTED = 10  # factories named in one group message


def queue_team_eligible(session: Session, now: datetime) -> int:
    """One message a day to each team's group robot: the factories that became eligible.

    Newly eligible is eligible since the day before (set by this sweep or by a change during
    the day); the key names the day, so a rerun of the sweep queues nothing new.
    """
    queued = 0
    for channel in webhooks.active_channels():
        rows = session.execute(
            select(Factory.name, Factory.stage)
            .join(Belt, Belt.id == Factory.belt_id)
            .where(
                Belt.team_id == channel.team_id,
                Factory.status == "active",
                Factory.eligible_since > now - timedelta(days=1),
                Factory.eligible_since <= now,
            )
            .order_by(Factory.eligible_since, Factory.id)
        ).all()
        if not rows:
            continue

        def text(rows: list = rows, team: str = one_line(channel.team.name)) -> str:
            lines = [
                ngettext(
                    "%(team)s: %(num)d factory is ready for its next stage",
                    "%(team)s: %(num)d factories are ready for their next stage",
                    len(rows),
                    team=team,
                )
            ]
            lines += [f"  • {one_line(name)}" for name, _stage in rows[:LISTED]]
            if len(rows) > LISTED:
                lines.append("  • " + _("and %(count)d more", count=len(rows) - LISTED))
            lines.append(_("A manager decides each promotion in the pipeline."))
            return "\n".join(lines)

        key = f"factory_eligible:{clock.today(now).isoformat()}:channel:{channel.id}"
        queued += webhooks.queue(channel, "factory_eligible", key, text) is not None
    return queued
