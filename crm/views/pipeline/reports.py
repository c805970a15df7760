"""Reports: charts a manager would rather look at than read, drawn on the server as SVG (no
chart library, nothing inline: sizes are SVG attributes, colours are the stylesheet's
classes), each with its numbers beside it and an export."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, export, scope
from crm.errors import Invalid
from crm.models import STAGES
from crm.services.pipeline import board as board_service
from crm.services.pipeline import reports
from crm.values import id_or_none
from crm.views.pipeline import bp
from crm.views.templating import belt_name, column_label, current_locale

REPORTS = ("stages", "conversion", "belts", "visits", "targets")

# The stacked bars of factories per stage: the drawing's size in SVG units.
TREND_WIDTH, TREND_HEIGHT, TREND_LEFT, TREND_BOTTOM, TREND_TOP = 640, 240, 44, 38, 8


@dataclass
class Segment:
    column: str
    count: int
    y: float
    height: float


@dataclass
class Bar:
    label: str  # the month, short
    year: str  # under January and the first bar only
    x: float
    width: float
    total: int
    segments: list[Segment]


def trend_chart(trend: reports.StageTrend) -> dict:
    """The geometry of the stacked bars: one bar per month, a segment per column."""
    plot_height = TREND_HEIGHT - TREND_BOTTOM - TREND_TOP
    plot_width = TREND_WIDTH - TREND_LEFT
    top = _nice(trend.highest)
    slot = plot_width / max(len(trend.months), 1)
    bars = []
    for index, (month, counts) in enumerate(zip(trend.months, trend.counts, strict=True)):
        y = TREND_TOP + plot_height
        segments = []
        for column in reports.TREND_COLUMNS:
            height = plot_height * counts[column] / top if top else 0
            y -= height
            if counts[column]:
                segments.append(Segment(column, counts[column], round(y, 2), round(height, 2)))
        bars.append(
            Bar(
                format_date(month, "MMM"),
                str(month.year) if index == 0 or month.month == 1 else "",
                round(TREND_LEFT + index * slot + slot * 0.18, 2),
                round(slot * 0.64, 2),
                sum(counts.values()),
                segments,
            )
        )
    # No factory in any month gives no scale: the chart then has bars of zero and no ticks.
    ticks = (
        [
            (value, round(TREND_TOP + plot_height - plot_height * value / top, 2))
            for value in (0, top // 2, top)
        ]
        if top
        else []
    )
    return {
        "bars": bars,
        "ticks": ticks,
        "width": TREND_WIDTH,
        "height": TREND_HEIGHT,
        "left": TREND_LEFT,
        "baseline": TREND_TOP + plot_height,
    }


def _nice(value: int) -> int:
    """A round top for an axis: 1, 2 or 5 times a power of ten, at least the value."""
    if value <= 0:
        return 0
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def report_belt() -> int | None:
    """The belt asked for, if it is one the person may narrow to."""
    value = request.args.get("belt", "")
    belt_id = id_or_none(value)
    if belt_id is None:
        return None
    allowed = {belt.id for belt in board_service.belt_choices(current_user)}
    return belt_id if belt_id in allowed else None


@bp.route("/reports")
@scope.allow("manage")
def reports_page():
    moment = clock.now()
    belt_id = report_belt()
    trend = reports.stages_over_time(current_user, belt_id, moment)
    visits = reports.visits_per_week(current_user, belt_id, moment)
    return render_template(
        "pipeline/reports.html",
        belt_id=belt_id,
        belts=board_service.belt_choices(current_user),
        trend=trend,
        chart=trend_chart(trend),
        conversion=reports.conversion(current_user, belt_id, moment),
        visits=visits,
        visits_top=_nice(visits.highest),
        targets=reports.target_attainment(current_user, belt_id, moment),
        trend_columns=reports.TREND_COLUMNS,
        converting=[stage for stage in STAGES if stage != STAGES[-1]],
    )


@bp.route("/reports/export")
@scope.allow("manage")
def export_report():
    """One report's numbers as a table: `report` is one of REPORTS."""
    moment = clock.now()
    belt_id = report_belt()
    which = request.args.get("report", "")
    if which not in REPORTS:
        raise Invalid(_("Choose one of the reports."), fields={"report": which})
    header, rows = _REPORT_TABLES[which](belt_id, moment)
    name = f"pipeline-report-{which}-{clock.today(moment):%Y-%m-%d}"
    return export.response(export.chosen_format(request.args), name, header, rows)


def _stages_table(belt_id, moment):
    trend = reports.stages_over_time(current_user, belt_id, moment)
    header = [_("Month"), *(column_label(column) for column in reports.TREND_COLUMNS)]
    rows = [
        [month.strftime("%Y-%m"), *(counts[column] for column in reports.TREND_COLUMNS)]
        for month, counts in zip(trend.months, trend.counts, strict=True)
    ]
    return header, rows


def _conversion_table(belt_id, moment):
    result = reports.conversion(current_user, belt_id, moment)
    header = [
        _("Stage"),
        _("Quarter of entry"),
        _("Entered"),
        _("Moved on"),
        _("Conversion (%)"),
        _("Median days in stage"),
    ]
    rows = [
        [
            column_label(stage),
            quarter,
            cohort.entered,
            cohort.moved_on,
            cohort.rate,
            cohort.median_days,
        ]
        for stage in result.stages
        for quarter in result.quarters
        for cohort in [result.cohort(stage, quarter)]
    ]
    return header, rows


def _belts_table(belt_id, moment):
    result = reports.conversion(current_user, belt_id, moment)
    header = [
        _("Belt"),
        _("Stage"),
        _("Entered"),
        _("Moved on"),
        _("Conversion (%)"),
        _("Median days in stage"),
    ]
    rows = [
        [
            belt_name(belt),
            column_label(stage),
            cohort.entered,
            cohort.moved_on,
            cohort.rate,
            cohort.median_days,
        ]
        for belt in result.belts
        for stage in result.stages
        for cohort in [result.belt_cohort(belt.id, stage)]
    ]
    return header, rows


def _visits_table(belt_id, moment):
    result = reports.visits_per_week(current_user, belt_id, moment)
    header = [_("Rep"), *(f"{monday:%Y-%m-%d}" for monday in result.weeks), _("Total")]
    rows = [[rep.name, *counts, sum(counts)] for rep, counts in result.rows]
    return header, rows


def _targets_table(belt_id, moment):
    items = reports.target_attainment(current_user, belt_id, moment)
    header = [
        _("Stage"),
        _("Target"),
        _("Met"),
        _("Not met"),
        _("No figures or too old"),
        _("Waived"),
        _("Met (%)"),
    ]
    locale = current_locale()
    rows = [
        [
            column_label(item.stage),
            item.title_for(locale),
            item.met,
            item.not_met,
            item.no_data,
            item.waived,
            item.rate,
        ]
        for item in items
    ]
    return header, rows


_REPORT_TABLES = {
    "stages": _stages_table,
    "conversion": _conversion_table,
    "belts": _belts_table,
    "visits": _visits_table,
    "targets": _targets_table,
}
