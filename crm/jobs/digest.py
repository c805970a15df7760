"""Monday mornings: a digest for each manager of the teams they lead, for the week before.

What moved stage, the overdue follow-ups and stale factories by rep, the visits per rep
(reps who made none included) and the eligible factories waiting for a decision. One
notification per manager and week (its key names both), written in the manager's
language; five queries per manager, grouped in SQL. Each team with a group robot
(crm.services.notices.webhooks) gets its own team's digest there, once per week.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from crm import clock, scope
from crm.jobs.notices import Notice, active_managers, send_once
from crm.models import Belt, Factory, FollowUp, StageChange, StageDefinition, Team, User, Visit
from crm.services.factories import list_filters
from crm.services.notices import webhooks
from crm.services.notices.one_line import one_line

LISTED = 5  # names listed under a count


@dataclass
class Digest:
    now: datetime
    first_day: date
    last_day: date
    moves: list[tuple[str, str | None, str | None, str, str]] = field(default_factory=list)
    overdue_by_rep: list[tuple[str, int]] = field(default_factory=list)
    stale_by_rep: list[tuple[str, int]] = field(default_factory=list)
    visits_by_rep: list[tuple[str, int]] = field(default_factory=list)
    eligible: list[tuple[str, datetime]] = field(default_factory=list)
    eligible_count: int = 0


def week_before(now: datetime) -> tuple[date, date]:
    """The Monday-to-Sunday week before the latest Monday (the digest's period)."""
    day = clock.today(now)
    monday = day - timedelta(days=day.weekday())
    return monday - timedelta(days=7), monday - timedelta(days=1)


def run(session: Session, now: datetime) -> Iterator[dict[str, int]]:
    first, last = week_before(now)
    year, week, _weekday = (last + timedelta(days=1)).isocalendar()
    names = {s.code: (s.name_en, s.name_zh) for s in session.scalars(select(StageDefinition))}
    for managers in active_managers(session):
        notices = [
            _notice(manager, summarise(session, manager, now, first, last), names, year, week)
            for manager in managers
        ]
        yield {"digests": send_once(notices)}
    yield {"team_webhooks": queue_team_digests(session, now, first, last, names)}


def summarise(session: Session, manager: User, now: datetime, first: date, last: date) -> Digest:
    team_ids = [team.id for team in manager.led_teams]
    return summarise_belts(session, scope.led_belt_ids(manager), team_ids, now, first, last)


def summarise_belts(
    session: Session, belts, team_ids: list[int], now: datetime, first: date, last: date
) -> Digest:
    """The digest of some belts (a manager's, or one team's for its group chat)."""
    start, _ = clock.day_bounds(first)
    _, end = clock.day_bounds(last)
    digest = Digest(now, first, last)
    digest.moves = [
        tuple(row)
        for row in session.execute(
            select(
                Factory.name,
                StageChange.from_stage,
                StageChange.to_stage,
                StageChange.from_status,
                StageChange.to_status,
            )
            .join(Factory, Factory.id == StageChange.factory_id)
            .where(
                Factory.belt_id.in_(belts),
                StageChange.decision.in_(("approved", "direct")),
                StageChange.decided_at >= start,
                StageChange.decided_at < end,
            )
            .order_by(StageChange.decided_at)
        )
    ]
    assignee = aliased(User)
    digest.overdue_by_rep = _by_person(
        session,
        select(assignee.name, func.count(FollowUp.id))
        .join(Factory, Factory.id == FollowUp.factory_id)
        .join(assignee, assignee.id == FollowUp.assignee_id)
        .where(
            Factory.belt_id.in_(belts),
            FollowUp.status == "open",
            FollowUp.due_at < now,
            Factory.status.in_(list_filters.FOLLOWED),
        )
        .group_by(assignee.id, assignee.name),
    )
    owner = aliased(User)
    digest.stale_by_rep = _by_person(
        session,
        select(owner.name, func.count(Factory.id))
        .join(owner, owner.id == Factory.owner_id)
        .where(
            Factory.belt_id.in_(belts),
            list_filters.stale_condition(list_filters.stale_thresholds(now)),
        )
        .group_by(owner.id, owner.name),
    )
    digest.visits_by_rep = _visits_by_rep(session, team_ids, belts, start, end)
    eligible = (
        select(Factory.name, Factory.eligible_since)
        .where(Factory.belt_id.in_(belts), list_filters.eligible_condition())
        .order_by(Factory.eligible_since)
    )
    digest.eligible = [tuple(row) for row in session.execute(eligible.limit(LISTED))]
    digest.eligible_count = session.scalar(
        select(func.count()).select_from(eligible.order_by(None).subquery())
    )
    return digest


def _by_person(session: Session, statement) -> list[tuple[str, int]]:
    rows = session.execute(statement).all()
    return sorted(((name, count) for name, count in rows), key=lambda row: (-row[1], row[0]))


def _visits_by_rep(session, team_ids, belts, start, end) -> list[tuple[str, int]]:
    """Visits to the belts' factories per rep; the reps of the teams with none, as 0."""
    counts = dict(
        session.execute(
            select(Visit.rep_id, func.count(Visit.id))
            .join(Factory, Factory.id == Visit.factory_id)
            .where(
                Factory.belt_id.in_(belts), Visit.checked_in_at >= start, Visit.checked_in_at < end
            )
            .group_by(Visit.rep_id)
        ).all()
    )
    team_reps = select(User.id).join(Team, Team.id == User.team_id)
    team_reps = team_reps.where(
        User.role == "rep",
        User.active.is_(True),
        Team.id.in_(team_ids),
    )
    people = set(counts) | set(session.scalars(team_reps))
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(people))).all())
    rows = [(names.get(person, "?"), counts.get(person, 0)) for person in people]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def queue_team_digests(
    session: Session, now: datetime, first: date, last: date, names: dict
) -> int:
    """The week's digest of each team with an active group robot, queued once per week."""
    year, week, _weekday = (last + timedelta(days=1)).isocalendar()
    queued = 0
    for channel in webhooks.active_channels():
        team = channel.team
        belts = select(Belt.id).where(Belt.team_id == team.id)
        digest = summarise_belts(session, belts, [team.id], now, first, last)

        def text(team: Team = team, digest: Digest = digest) -> str:
            title = _(
                "Weekly digest of %(team)s: %(first)s to %(last)s",
                team=one_line(team.name),
                first=digest.first_day.isoformat(),
                last=digest.last_day.isoformat(),
            )
            return f"{title}\n{render(digest, names)}"

        key = f"digest:{year}-W{week:02d}:channel:{channel.id}"
        queued += webhooks.queue(channel, "digest", key, text) is not None
    return queued


# --- words ------------------------------------------------------------------------------------


def _notice(manager, digest: Digest, names, year: int, week: int) -> Notice:
    def title() -> str:
        return _(
            "Weekly digest: %(first)s to %(last)s",
            first=digest.first_day.isoformat(),
            last=digest.last_day.isoformat(),
        )

    return Notice(
        user=manager,
        kind="digest",
        key=f"digest:{year}-W{week:02d}:{manager.id}",
        title=title,
        body=lambda: render(digest, names),
    )


def _people(rows: list[tuple[str, int]]) -> str:
    return ", ".join(f"{one_line(name)} {count}" for name, count in rows) if rows else _("none")


def render(digest: Digest, names: dict[str, tuple[str, str]]) -> str:
    """The digest as plain text in the current language (the inbox and the e-mail show it)."""
    chinese = str(get_locale() or "en").startswith("zh")

    statuses = {"prospect": _("Prospect"), "paused": _("Paused"), "churned": _("Churned")}

    def stage(code: str | None, status: str | None) -> str:
        # A pause or a churn keeps the stage: the status is what moved.
        if status in statuses or code not in names:
            return statuses.get(status or "", status or "")
        return names[code][1 if chinese else 0]

    lines = [_("Stage moves: %(count)d", count=len(digest.moves))]
    for name, from_stage, to_stage, from_status, to_status in digest.moves[:LISTED]:
        moved = f"{stage(from_stage, from_status)} → {stage(to_stage, to_status)}"
        lines.append(f"  • {one_line(name)}: {moved}")
    if len(digest.moves) > LISTED:
        lines.append("  • " + _("and %(count)d more", count=len(digest.moves) - LISTED))
    lines.append(_("Overdue follow-ups by rep: %(list)s", list=_people(digest.overdue_by_rep)))
    lines.append(_("Stale factories by rep: %(list)s", list=_people(digest.stale_by_rep)))
    lines.append(_("Visits per rep: %(list)s", list=_people(digest.visits_by_rep)))
    lines.append(_("Eligible factories waiting: %(count)d", count=digest.eligible_count))
    for name, since in digest.eligible:
        waited = max(0, (clock.today(digest.now) - clock.today(since)).days)
        waiting = _("%(name)s, waiting %(days)d days", name=one_line(name), days=waited)
        lines.append("  • " + waiting)
    return "\n".join(lines)
