"""The team page: per rep over a period, depth of work first and signings last; sortable and
exported as the page shows it."""

from __future__ import annotations

from datetime import date

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, export, scope
from crm.forms.pipeline import PeriodForm
from crm.services.pipeline import team_report
from crm.values import whole_or
from crm.views.pipeline import bp
from crm.views.templating import column_label


def team_request() -> tuple[PeriodForm, team_report.TeamReport]:
    moment = clock.now()
    form = PeriodForm(request.args)
    form.validate()
    start, end = team_report.period(
        form.start.data if not form.start.errors else None,
        form.end.data if not form.end.errors else None,
        moment,
        days=whole_or(request.args.get("days"), 30, 1, 3660),
    )
    sort = request.args.get("sort", "visits")
    descending = request.args.get("order", "desc") != "asc"
    report = team_report.team_report(current_user, start, end, moment, sort, descending)
    return form, report


def team_query(report: team_report.TeamReport, **changes) -> dict[str, str]:
    query = {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "sort": report.sort,
        "order": "desc" if report.descending else "asc",
    }
    query.update(changes)
    return query


def quick_periods(today: date) -> list[tuple[str, date, date]]:
    def back(days: int) -> date:
        return date.fromordinal(today.toordinal() - days + 1)

    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return [
        (_("Last 7 days"), back(7), today),
        (_("Last 30 days"), back(30), today),
        (_("Last 90 days"), back(90), today),
        (_("This quarter"), quarter_start, today),
    ]


@bp.route("/team")
@scope.allow("manage")
def team():
    form, report = team_request()
    return render_template(
        "pipeline/team.html",
        form=form,
        report=report,
        columns=team_report.OWNED_COLUMNS,
        query=lambda **changes: team_query(report, **changes),
        quick=quick_periods(clock.today()),
    )


@bp.route("/team/export")
@scope.allow("manage")
def export_team():
    _form, report = team_request()
    header = [
        _("Rep"),
        _("Visits"),
        _("Off-site check-ins"),
        _("Off-site share (%)"),
        _("Tasks completed"),
        _("Promotions achieved"),
        _("Overdue follow-ups"),
        _("Stale factories"),
        _("Factories owned"),
        *(column_label(column) for column in team_report.OWNED_COLUMNS),
        _("Signings"),
    ]
    rows = (
        [
            row.rep.name,
            row.visits,
            row.offsite,
            row.offsite_share,
            row.tasks,
            row.promotions,
            row.overdue,
            row.stale,
            row.owned_total,
            *(row.owned[column] for column in team_report.OWNED_COLUMNS),
            row.signings,
        ]
        for row in report.rows
    )
    name = f"pipeline-team-{report.start:%Y-%m-%d}-{report.end:%Y-%m-%d}"
    return export.response(request.args.get("format", "csv"), name, header, rows)
