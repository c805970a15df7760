"""Reports: charts a manager would rather look at than read, drawn on the server as SVG (no
chart library, nothing inline: sizes are SVG attributes, colours are the stylesheet's
classes), each with its numbers beside it and an export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import render_template, request
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from crm import clock, export, scope
from crm.errors import Invalid
from crm.models import STAGES
from crm.services.pipeline import board as board_service
from crm.services.reports import kept_reports, reports
from crm.transactions import bookkeep
from crm.values import id_or_none, read_date
from crm.views import downloads
from crm.views.pipeline import bp
from crm.views.templating import belt_name, column_label, current_locale

REPORTS = ("stages", "conversion", "belts", "visits", "targets")
# The earliest day a report's period may start on.
EARLIEST = date(2000, 1, 1)

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
        new_year = index == 0 or trend.months[index - 1].year != month.year
        bars.append(
            Bar(
                format_date(month, "MMM" if trend.granularity == "month" else "d MMM"),
                str(month.year) if new_year else "",
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


def week_bars(counts: list[int], top: int) -> Markup:
    """One rep's bars of visits, a rect per period (the last one marked as now), on a scale
    whose top is `top`. Numbers only, joined here: a template loop over hundreds of reps'
    bars was the slowest part of the page."""
    rects = []
    for index, count in enumerate(counts):
        height = 30 * count / top if top else 0
        now = " report-week-now" if index == len(counts) - 1 else ""
        rects.append(
            f'<rect class="report-week{now}" x="{index * 12 + 1}" y="{31 - height}"'
            f' width="9" height="{height + 1}"/>'
        )
    return Markup("".join(rects))


def report_belt() -> int | None:
    """The belt asked for, if it is one the person may narrow to."""
    value = request.args.get("belt", "")
    belt_id = id_or_none(value)
    if belt_id is None:
        return None
    allowed = {belt.id for belt in board_service.belt_choices(current_user)}
    return belt_id if belt_id in allowed else None


@dataclass(frozen=True)
class ReportRequest:
    """The period (from, to, granularity) and the belt or rep a reports page is asked for."""

    start: date
    end: date
    granularity: str
    narrow: reports.Narrow
    chosen: bool  # the period was chosen in the query (not the default)
    refresh: bool = False  # read the numbers again now rather than show the kept ones

    @property
    def period(self) -> tuple[date, date, str]:
        return self.start, self.end, self.granularity

    def query(self, **changes) -> dict[str, str]:
        """The page's URL query (the default period left out), with some fields changed."""
        query = {
            "belt": str(self.narrow.belt_id or ""),
            "rep": str(self.narrow.rep_id or ""),
        }
        if self.chosen:
            query.update(
                {
                    "from": self.start.isoformat(),
                    "to": self.end.isoformat(),
                    "granularity": self.granularity,
                }
            )
        query.update(changes)
        return {name: value for name, value in query.items() if value}


def report_request(moment: datetime) -> ReportRequest:
    """The reports' period and narrowing from the URL; a bad value is refused by its field."""
    today = clock.today(moment)
    errors: dict[str, str] = {}
    granularity = request.args.get("granularity", "") or "month"
    if granularity not in reports.GRANULARITIES:
        errors["granularity"] = _("Choose days, weeks or months.")
        granularity = "month"
    dates: dict[str, date | None] = {}
    for name in ("from", "to"):
        raw = request.args.get(name, "")
        try:
            dates[name] = read_date(raw, EARLIEST, today) if raw else None
        except ValueError as error:
            errors[name] = str(error)
    end = dates.get("to") or today
    start = dates.get("from") or reports.default_start(end, granularity)
    if not errors and start > end:
        errors["from"] = _("The start comes after the end.")
    if not errors and len(reports.buckets(start, end, granularity)) > reports.MAX_BUCKETS:
        errors["granularity"] = _(
            "Too many bars for one chart: choose weeks or months, or a shorter period."
        )
    rep_id = None
    if raw_rep := request.args.get("rep", ""):
        rep_id = id_or_none(raw_rep)
        allowed = {rep.id for rep in board_service.rep_choices(current_user)}
        if rep_id not in allowed:
            errors["rep"] = _("Choose one of your reps.")
    refresh = request.args.get("refresh", "")
    if refresh not in ("", "1"):
        errors["refresh"] = _("Leave it out, or 1 to read the numbers again.")
    if errors:
        labels = {
            "from": _("From"),
            "to": _("To"),
            "granularity": _("By"),
            "rep": _("Rep"),
            "refresh": _("Refresh"),
        }
        words = "; ".join(f"{labels[name]}: {message}" for name, message in errors.items())
        raise Invalid(words, fields=errors)
    chosen = any(request.args.get(name) for name in ("from", "to", "granularity"))
    narrow = reports.Narrow(belt_id=report_belt(), rep_id=rep_id)
    return ReportRequest(start, end, granularity, narrow, chosen, refresh == "1")


@bp.route("/reports")
@scope.allow("manage")
def reports_page():
    moment = clock.now()
    asked = report_request(moment)
    narrow = asked.narrow
    found = kept_reports.reports_for(
        current_user, narrow, moment, asked.period, refresh=asked.refresh
    )
    page = render_template(
        "pipeline/reports.html",
        asked=asked,
        belt_id=narrow.belt_id,
        rep_id=narrow.rep_id,
        belts=board_service.belt_choices(current_user),
        reps=board_service.rep_choices(current_user),
        found=found,
        trend=found.trend,
        chart=trend_chart(found.trend),
        conversion=found.conversion,
        visits=found.visits,
        visits_top=_nice(found.visits.highest),
        week_bars=week_bars,
        targets=found.targets,
        trend_columns=reports.TREND_COLUMNS,
        converting=[stage for stage in STAGES if stage != STAGES[-1]],
        granularities=granularity_choices(),
    )
    _keep(found)
    return page


def _keep(found: kept_reports.Reports) -> None:
    """Write what the reading asks to keep, once the answer is made (bookkeeping: a busy
    database skips it, never an error for the page)."""
    if found.keep is not None:
        bookkeep(found.keep)


def granularity_choices() -> list[tuple[str, str]]:
    return [("day", _("Days")), ("week", _("Weeks")), ("month", _("Months"))]


@bp.route("/reports/export")
@scope.allow("manage")
def export_report():
    """One report's numbers as a table: `report` is one of REPORTS."""
    moment = clock.now()
    file_format = downloads.chosen_format(request.args)
    asked = report_request(moment)
    which = request.args.get("report", "")
    if which not in REPORTS:
        raise Invalid(_("Choose one of the reports."), fields={"report": which})
    found = kept_reports.reports_for(current_user, asked.narrow, moment, asked.period)
    header, rows = _REPORT_TABLES[which](found)
    _keep(found)
    name = f"pipeline-report-{which}-{asked.start:%Y-%m-%d}-{asked.end:%Y-%m-%d}"
    return export.response(file_format, name, header, rows)


def _stages_table(found: kept_reports.Reports):
    trend = found.trend
    monthly = trend.granularity == "month"
    first = _("Month") if monthly else _("Period from")
    header = [first, *(column_label(column) for column in reports.TREND_COLUMNS)]
    rows = [
        [
            month.strftime("%Y-%m") if monthly else month.isoformat(),
            *(counts[column] for column in reports.TREND_COLUMNS),
        ]
        for month, counts in zip(trend.months, trend.counts, strict=True)
    ]
    return header, rows


def _conversion_table(found: kept_reports.Reports):
    result = found.conversion
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


def _belts_table(found: kept_reports.Reports):
    result = found.conversion
    header = [
        _("Belt id"),
        _("Belt"),
        _("Stage"),
        _("Entered"),
        _("Moved on"),
        _("Conversion (%)"),
        _("Median days in stage"),
    ]
    rows = [
        [
            belt.id,
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


def _visits_table(found: kept_reports.Reports):
    result = found.visits
    header = [_("Rep id"), _("Rep"), *(f"{first:%Y-%m-%d}" for first in result.weeks), _("Total")]
    rows = [[rep.id, rep.name, *counts, sum(counts)] for rep, counts in result.rows]
    return header, rows


def _targets_table(found: kept_reports.Reports):
    items = found.targets
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
