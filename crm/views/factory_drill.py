"""The factory list opened from a manager's count: the drill-down filters read from the URL and
shown in words, and the links of the board's and the stuck page's counts
(crm.services.pipeline.drill holds the conditions)."""

from __future__ import annotations

from flask import request, url_for
from flask_babel import gettext as _

from crm.extensions import db
from crm.models import Belt
from crm.services.factories import list_filters
from crm.services.pipeline import drill
from crm.values import id_or_none, text_problem
from crm.views.factories import bp
from crm.views.templating import belt_name, column_label

# The list's filters that a manager's count opens it with (crm.services.pipeline.drill).
DRILLED = ("belt", "column", "stuck", "category", "key", "target")


@bp.app_template_global()
def board_drill(filters, column: str) -> str:
    """The factory list of one board column under the board's filters (its count's link)."""
    return url_for("factories.index", **drill.board_query(filters, column))


@bp.app_template_global()
def stuck_drill(filters) -> str:
    """The factory list of the stuck list shown, under the stuck page's filters."""
    return url_for("factories.index", **drill.stuck_query(filters))


def drilled_filters() -> dict[str, str]:
    """The filters a count opens the list with (crm.services.pipeline.drill), from the URL."""
    return {name: _drilled(request.args.get(name, "")) for name in DRILLED}


def _drilled(raw: str) -> str:
    """A drill-down filter as sent. One that is not text (a NUL, a lone surrogate) never
    reaches the database: it becomes U+FFFD, an unknown value, which matches nothing."""
    value = raw[:300].strip()
    return "\ufffd" if text_problem(value, False) else value


def drilled_chips(filters: list_filters.Filters) -> list[tuple[str, str]]:
    """What the drill-down filters narrow to, in words: (the field's name, its value)."""
    chips = []
    if filters.belt:
        belt = db.session.get(Belt, id_or_none(filters.belt) or 0)
        chips.append((_("Belt"), belt_name(belt) if belt else filters.belt))
    if filters.column:
        chips.append((_("Column"), column_label(filters.column)))
    if filters.stuck:
        chips.append((_("Stuck"), stuck_label(filters.stuck)))
    if filters.category:
        chips.append((_("Category"), filters.category))
    if filters.key:
        chips.append((_("Key account"), _("Yes") if filters.key == "yes" else _("No")))
    if filters.target:
        stage, _colon, title = filters.target.partition(":")
        chips.append((_("Target not met"), f"{column_label(stage)}: {title}"))
    return chips


def stuck_label(kind: str) -> str:
    labels = {
        "stale": _("Stale"),
        "overdue": _("Overdue follow-up"),
        "long": _("Long in stage"),
        "eligible": _("Eligible, not requested"),
    }
    return labels.get(kind, kind)
