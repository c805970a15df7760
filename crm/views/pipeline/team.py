"""The team page: per rep over a period, depth of work first and signings last; sorted over
every rep, drawn a page of reps at a time under a totals row of them all, and exported whole."""

from __future__ import annotations

from datetime import date

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, export, scope
from crm.errors import Invalid
from crm.forms.pipeline import PeriodForm
from crm.services.field import my_week as weeks
from crm.services.pipeline import rep_portfolio, team_report
from crm.values import page_number, whole_or
from crm.views import downloads
from crm.views.my_week import shown
from crm.views.pipeline import bp
from crm.views.templating import column_label


def team_request(with_report: bool = True) -> tuple[PeriodForm, team_report.TeamReport]:
    """The period (and sort) asked for; a date that is not one is refused by its field (422).

    Without `with_report`, the report holds the period only (no rows are counted)."""
    moment = clock.now()
    form = PeriodForm(request.args)
    if not form.validate():
        fields = {name: "; ".join(map(str, errors)) for name, errors in form.errors.items()}
        words = "; ".join(f"{form[name].label.text}: {text}" for name, text in fields.items())
        raise Invalid(words, fields=fields)
    start, end = team_report.period(
        form.start.data,
        form.end.data,
        moment,
        days=whole_or(request.args.get("days"), 30, 1, 3660),
    )
    sort = request.args.get("sort", "visits")
    descending = request.args.get("order", "desc") != "asc"
    if not with_report:
        return form, team_report.TeamReport([], start, end, sort, descending)
    page = page_number(request.args.get("page"))
    report = team_report.team_report(current_user, start, end, moment, sort, descending, page)
    return form, report


def team_query(report: team_report.TeamReport, **changes) -> dict[str, str | int]:
    """The page's URL query with these changes; the first page goes without a number (a new
    sort or period starts there)."""
    query: dict[str, str | int] = {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "sort": report.sort,
        "order": "desc" if report.descending else "asc",
        "page": report.page,
    }
    query.update(changes)
    if query["page"] == 1:
        del query["page"]
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
        labels={column: column_label(column) for column in team_report.OWNED_COLUMNS},
        query=lambda **changes: team_query(report, **changes),
        quick=quick_periods(clock.today()),
    )


@bp.route("/team/export")
@scope.allow("manage")
def export_team():
    _form, report = team_request()
    header = [
        _("Rep id"),
        _("Rep"),
        _("Visits"),
        _("Off-site check-ins"),
        _("Off-site share (%)"),
        _("Tasks completed"),
        _("Promotions achieved"),
        _("Factories with an overdue follow-up"),
        _("Stale factories"),
        _("Factories owned"),
        *(column_label(column) for column in team_report.OWNED_COLUMNS),
        _("Flagged visits"),
        _("Flagged, accepted"),
        _("Flagged, disputed"),
        _("Signings"),
    ]
    rows = (
        [
            row.rep.id,
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
            row.flagged,
            row.accepted,
            row.disputed,
            row.signings,
        ]
        for row in report.rows
    )
    name = f"pipeline-team-{report.start:%Y-%m-%d}-{report.end:%Y-%m-%d}"
    return export.response(downloads.chosen_format(request.args), name, header, rows)


@bp.route("/team/<int:rep_id>")
@scope.allow("manage")
def rep_week(rep_id: int):
    """One rep's week as the rep sees it (My week), with their portfolio over the team page's
    period: visits per owned factory, the share on site, overdue follow-ups."""
    rep = rep_portfolio.rep_in_scope(current_user, rep_id)
    form, report = team_request(with_report=False)
    moment = clock.now()
    return render_template(
        "pipeline/rep_week.html",
        rep=rep,
        rep_view=True,
        week=weeks.my_week(rep, moment),
        chart_width=weeks.CHART_WIDTH,
        chart_height=weeks.CHART_HEIGHT,
        shown=shown,
        form=form,
        portfolio=rep_portfolio.portfolio(current_user, rep, report.start, report.end, moment),
    )
