"""From a manager's count to its factories: the conditions that a count and the factory list
share, so that a number and the list it opens can never disagree.

The overview's and the team page's counts per column, the board's columns and filters and the
stuck lists each count with a condition from here (or from the module that owns the rule, named
here), and the factory list narrows with the very same one when opened from that count
(`Filters.belt`, `column`, `stuck`, `category`, `key`, `target` and the `offsite` flag). A
count links with `query()`: the list's own URL filters, so the link can be shared.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.sql.elements import ColumnElement

from crm.models import STAGES, Factory
from crm.services.pipeline import board, stuck
from crm.services.reports import report_targets
from crm.values import id_or_none

COLUMNS = ("prospect", *board.COLUMNS[1:], "churned")


def nothing() -> ColumnElement[bool]:
    """A condition no factory meets, kept as a condition: a constant false would fold the whole
    WHERE away, and with it the rep's part that a partial index is told to answer."""
    return Factory.id.is_(None)


def column_condition(column: str) -> ColumnElement[bool]:
    """A pipeline column: prospects, an active stage, paused or churned (the board's rule)."""
    return board.column_condition(column) if column in COLUMNS else nothing()


def belt_condition(belt: str) -> ColumnElement[bool]:
    belt_id = id_or_none(belt)
    return Factory.belt_id == belt_id if belt_id is not None else nothing()


def stuck_condition(kind: str, now: datetime, thresholds: dict[str, datetime]):
    """One of the stuck lists (stuck.KINDS), as the stuck page counts it."""
    if kind not in stuck.KINDS:
        return nothing()
    return stuck.list_condition(kind, now, thresholds)


def target_condition(target: str, now: datetime) -> ColumnElement[bool]:
    """A report's "not met" of one stage's target ("<stage>:<English title>")."""
    stage, _colon, title = target.partition(":")
    if stage not in STAGES or not title:
        return nothing()
    return report_targets.target_condition(stage, title, now)


def target_key(stage: str, title_en: str) -> str:
    return f"{stage}:{title_en}"


def conditions(filters, now: datetime, thresholds: dict[str, datetime]) -> list:
    """The drill-down filters of the factory list (crm.services.factories.list_filters.Filters)
    as conditions; a value that names nothing matches nothing, never everything."""
    found: list[ColumnElement[bool]] = []
    if filters.flag == "offsite":
        found.append(board.offsite_condition(board.offsite_since(now)))
    if filters.belt:
        found.append(belt_condition(filters.belt))
    if filters.column:
        found.append(column_condition(filters.column))
    if filters.stuck:
        found.append(stuck_condition(filters.stuck, now, thresholds))
    if filters.target:
        found.append(target_condition(filters.target, now))
    if filters.category:
        found.append(Factory.category == filters.category[: board.CATEGORY_MAX])
    if filters.key == "yes":
        found.append(Factory.is_key_account.is_(True))
    elif filters.key == "no":
        found.append(Factory.is_key_account.is_(False))
    elif filters.key:
        found.append(nothing())
    return found


def board_query(filters: board.BoardFilters, column: str) -> dict[str, str]:
    """The factory list's query for one board column under the board's filters."""
    flag = filters.flag if filters.flag in board.FLAGS else ""
    return query(
        column=column,
        belt=filters.belt,
        owner=filters.rep,
        category=filters.category,
        key=filters.key,
        flag=flag,
    )


def stuck_query(filters: stuck.StuckFilters) -> dict[str, str]:
    """The factory list's query for the stuck list shown, under the stuck page's filters."""
    return query(stuck=filters.kind, belt=filters.belt, owner=filters.rep)


def query(**filters: str | int | None) -> dict[str, str]:
    """The factory list's URL query for these filters (empty ones left out)."""
    return {name: str(value) for name, value in filters.items() if value not in (None, "")}
