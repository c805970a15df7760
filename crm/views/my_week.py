"""My week: the signed-in rep's own work this week and the eight before it (issue 27); a page of
the field blueprint, kept in a module of its own."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope
from crm.services.field import my_week as weeks
from crm.views.field import bp


@bp.route("/my-week")
@scope.allow("staff")
def my_week():
    """A rep's own figures; a manager's or admin's work is read about their reps, on the team
    page, so theirs points there instead of drawing a week of their own."""
    week = weeks.my_week(current_user, clock.now()) if current_user.role == "rep" else None
    return render_template(
        "field/my_week.html",
        week=week,
        chart_width=weeks.CHART_WIDTH,
        chart_height=weeks.CHART_HEIGHT,
        shown=shown,
    )


def shown(value: float | None, share: bool) -> str:
    """A figure as the page shows it: "3", "2.5" (a median), "67%", or "–" for none."""
    if value is None:
        return "–"
    if share:
        return _("%(share)s%%", share=round(value))
    return str(int(value)) if value == int(value) else f"{value:.1f}"
