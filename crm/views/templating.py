"""What every template may call: navigation, labels for codes, dates in the install's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

from babel import Locale
from flask import Flask, g, has_request_context, render_template, request
from flask_babel import format_date as babel_format_date
from flask_babel import gettext as _
from flask_login import current_user
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape

from crm import cache, clock
from crm.services.growth import eligibility, snapshots
from crm.services.privacy import consent, erasure
from crm.views.distances import format_distance
from crm.views.kept import (
    RowUrl,
    current_locale,
    kept_html,
    page_url,
    request_locale,
    translations,
    words_once,
)

NAV = {
    "rep": (
        ("field.today", "Today"),
        ("factories.index", "Factories"),
        ("visits.new", "Visit"),
        ("pipeline.index", "Pipeline"),
    ),
    "manager": (
        ("pipeline.index", "Pipeline"),
        ("factories.index", "Factories"),
        ("field.today", "Today"),
    ),
    "admin": (
        ("admin.index", "Admin"),
        ("pipeline.index", "Pipeline"),
        ("factories.index", "Factories"),
    ),
    "factory": (("portal.index", "My growth"), ("portal.team", "Colleagues")),
}


@pass_eval_context
def template_gettext(eval_context: EvalContext, string: str, **variables: object) -> str:
    """`_()` and `gettext()` in templates: Jinja's own (newstyle) rule, escaping and `%`
    formatting alike, without its two extra calls through the template context a string."""
    found = translations().ugettext(string)
    if eval_context.autoescape:
        found = Markup(found)
    # Without a "%" the formatting gives the same string back: skipped, as most strings are.
    return found % variables if variables or "%" in found else found


@pass_eval_context
def template_ngettext(
    eval_context: EvalContext, singular: str, plural: str, num: int, **variables: object
) -> str:
    variables.setdefault("num", num)
    found = translations().ungettext(singular, plural, num)
    if eval_context.autoescape:
        found = Markup(found)
    return found % variables


def _nav_labels() -> dict[str, str]:
    return {
        "Today": _("Today"),
        "Pipeline": _("Pipeline"),
        "Admin": _("Admin"),
        "My growth": _("My growth"),
        "Colleagues": _("Colleagues"),
        "Factories": _("Factories"),
        "Visit": _("Visit"),
    }


# The parts of a signed-in page's frame that `chrome` keeps, and what each depends on besides
# the language: the reader's role and the page (its endpoint and blueprint), or nothing.
CHROME = {"topnav": True, "tabbar": True, "notes": False}


def chrome(name: str) -> Markup:
    """A part of every signed-in page's frame (its menus, the phone's status notes), rendered
    once per process for the reader's role, the page and the language: each asked for two
    dozen words and links on every page."""
    key: tuple = ("chrome", name)
    if CHROME[name]:
        key += (current_user.role, request.endpoint, request.blueprint)
    return kept_html(key, lambda: render_template(f"_chrome/{name}.html"))


def nav_links() -> list[tuple[str, str]]:
    if not current_user.is_authenticated:
        return []
    labels = words_once("nav", _nav_labels)
    return [(endpoint, labels[label]) for endpoint, label in NAV[current_user.role]]


def _stage_names() -> dict[str, cache.Stage]:
    if "stage_names" not in g:
        g.stage_names = cache.stages()
    return g.stage_names


def _metrics() -> dict[str, cache.MetricInfo]:
    if "metrics" not in g:
        g.metrics = snapshots.metric_catalogue()
    return g.metrics


def explain(item: eligibility.Item) -> str:
    """An eligibility item in words, in the reader's language."""
    return eligibility.explain(item, _metrics(), current_locale())


def stage_label(code: str | None) -> str:
    definition = _stage_names().get(code or "")
    if definition is None:
        return code or ""
    return definition.name_zh if current_locale().startswith("zh") else definition.name_en


def status_label(status: str) -> str:
    return words_once("status", _status_labels).get(status, status)


def stage_badge(factory) -> Markup:
    """A factory's stage and status badges: colour and text together, never colour alone. Made
    once per language and stage (a route or a list draws hundreds), here rather than in a macro,
    whose call costs a page of 400 rows more than the rest of its row."""
    status, stage = factory.status, factory.stage
    badges = words_once("badges", dict)
    key = (status, stage)
    found = badges.get(key)
    if found is None:
        if status == "prospect":
            found = f'<span class="badge badge-prospect">{escape(status_label(status))}</span>'
        else:
            found = f'<span class="badge badge-{escape(stage)}">{escape(stage_label(stage))}</span>'
            if status != "active":
                muted = escape(status_label(status))
                found += f' <span class="badge badge-muted">{muted}</span>'
        found = badges[key] = Markup(found)
    return found


def may_correct_visit(visit) -> bool:
    """Whether the signed-in user may correct this visit now: its rep, within the day."""
    from crm.services.trust import corrections

    return corrections.may_correct(current_user, visit, clock.now())


def review_state_label(state: str) -> str:
    """Where a flagged visit's review stands, in words (crm.services.trust.flagged)."""
    return words_once("review_states", _review_states).get(state, state)


def _review_states() -> dict[str, str]:
    return {
        "accepted": _("Accepted"),
        "disputed": _("Disputed"),
        "answered": _("Answered"),
        "closed": _("Closed"),
    }


def _status_labels() -> dict[str, str]:
    return {
        "prospect": _("Prospect"),
        "active": _("Active"),
        "paused": _("Paused"),
        "churned": _("Churned"),
    }


def column_label(column: str) -> str:
    return (
        status_label(column) if column in ("prospect", "paused", "churned") else stage_label(column)
    )


def role_label(role: str) -> str:
    return {
        "admin": _("Admins"),
        "manager": _("Managers"),
        "rep": _("Field staff"),
        "factory": _("Factory users"),
    }.get(role, role)


def role_name(role: str) -> str:
    return {
        "admin": _("Admin"),
        "manager": _("Manager"),
        "rep": _("Field staff"),
        "factory": _("Factory user"),
    }.get(role, role)


def task_status_label(status: str) -> str:
    return {
        "open": _("Open"),
        "submitted": _("Handed in"),
        "done": _("Done"),
        "waived": _("Waived"),
    }.get(status, status)


def belt_name(belt) -> str:
    return belt.name_for(current_locale())


DAY_TEXTS_KEPT = 5000
_day_texts: dict[tuple[str, date, str], str] = {}


class ReaderDays:
    """The reader's zone, today and days in words, found once per request and language: a list
    dates every row ("Today 14:00", "3 days ago", "Oct 23, 2026"), and each date asked of
    Flask-Babel and the clock on its own cost a page a tenth of its time. Outside a request (a
    job's e-mail), made again for each date."""

    __slots__ = ("locale", "near", "texts", "today", "zone")

    def __init__(self, locale: Locale | None) -> None:
        self.locale = locale
        self.zone = clock.zone()
        self.today = clock.today()
        self.texts: dict[tuple[date, str], str] = {}
        self.near: dict[str, str] | None = None

    @classmethod
    def now(cls) -> ReaderDays:
        locale = request_locale()
        if not has_request_context():
            return cls(locale)
        # Kept on the request itself: a test's requests may share one application context.
        found = getattr(request, "crm_reader_days", None)
        if found is None or found.locale is not locale:
            found = request.crm_reader_days = cls(locale)
        return found

    def text(self, day: date, pattern: str) -> str:
        key = (day, pattern)
        found = self.texts.get(key)
        if found is None:
            # A day in words depends on nothing but the language: kept for the process too
            # (a chart's six months, a list's dates), up to DAY_TEXTS_KEPT of them.
            kept = (str(self.locale), day, pattern)
            found = _day_texts.get(kept)
            if found is None:
                found = babel_format_date(day, pattern)
                if len(_day_texts) >= DAY_TEXTS_KEPT:
                    _day_texts.clear()
                _day_texts[kept] = found
            self.texts[key] = found
        return found

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)

    def days_since(self, instant: datetime) -> int:
        return (self.today - instant.astimezone(self.zone).date()).days

    def due(self, instant: datetime) -> str:
        local = instant.astimezone(self.zone)
        if self.near is None:
            self.near = words_once("due", _due_words)
        near = self.near.get(str((local.date() - self.today).days))
        if near is not None:
            return near % {"time": f"{local:%H:%M}"}
        return f"{self.text(local.date(), 'medium')} {local:%H:%M}"


def kept_sparkline(line, metric, stage: str | None, state: str) -> Markup:
    """A figure's six months as the sparkline macro draws them, rendered once a process for
    each set of values, target and language (kept_html): a factory's page and its portal show
    the same chart until a figure or the target changes."""
    key = (
        "sparkline",
        tuple((point.month, point.value) for point in line.points),
        line.target_y,
        line.width,
        line.height,
        metric.unit,
        stage,
        state,
    )
    values = {"line": line, "metric": metric, "stage": stage, "state": state}
    return kept_html(key, lambda: render_template("_macros/sparkline_chart.html", **values))


def format_date(day: date) -> str:
    return ReaderDays.now().text(day, "medium")


def format_month(month: date) -> str:
    """ "Oct 2026", "2026年10月": a month in the reader's language."""
    return ReaderDays.now().text(month, "MMM y")


def format_instant(instant: datetime) -> str:
    days = ReaderDays.now()
    local = days.local(instant)
    return f"{days.text(local.date(), 'medium')} {local:%H:%M}"


def format_due(instant: datetime) -> str:
    """ "14:00" today, "Tomorrow 10:00", otherwise the date and time, in the install's zone."""
    return ReaderDays.now().due(instant)


def machine_time(instant: datetime) -> str:
    """A <time>'s datetime to the minute, in UTC ("2026-12-11T05:06Z"): what a page shows is
    never finer, and a list of rows saves the seconds and the offset of each."""
    return f"{instant.astimezone(UTC):%Y-%m-%dT%H:%M}Z"


def _due_words() -> dict[str, str]:
    # Translated with "%(time)s" left in: each row's time goes in by format_due.
    return {
        "0": _("Today %(time)s"),
        "1": _("Tomorrow %(time)s"),
        "-1": _("Yesterday %(time)s"),
    }


def describe_agent(user_agent: str) -> str:
    """A short name for a browser, from its user-agent string."""
    agent = user_agent or ""
    device = _("Phone") if "Mobile" in agent else _("Computer")
    for name in ("Edg", "Firefox", "Chrome", "Safari"):
        if name in agent:
            browser = "Edge" if name == "Edg" else name
            return f"{browser} · {device}"
    return _("Unknown browser")


def location_consent() -> consent.State | None:
    """The signed-in staff member's consent to location at check-in, for the page's script
    (crm/static/js/location.js reads it from the body); None for anyone else."""
    if not current_user.is_authenticated or current_user.role not in consent.ASKED_ROLES:
        return None
    return consent.state(current_user)


def register(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")
    # Set before any template is compiled: the compiler reads it.
    app.jinja_env.finalize = erasure.shown
    # After Flask-Babel's: the same strings by a shorter way (template_gettext).
    app.jinja_env.globals.update(
        _=template_gettext, gettext=template_gettext, ngettext=template_ngettext
    )
    # After Flask's own: the same links by a shorter way (page_url).
    app.jinja_env.globals["url_for"] = page_url
    helpers = {
        "nav_links": nav_links,
        "chrome": chrome,
        "current_locale": current_locale,
        "stage_label": stage_label,
        "stage_badge": stage_badge,
        "may_correct_visit": may_correct_visit,
        "review_state_label": review_state_label,
        "explain": explain,
        "status_label": status_label,
        "column_label": column_label,
        "role_label": role_label,
        "role_name": role_name,
        "task_status_label": task_status_label,
        "belt_name": belt_name,
        "format_date": format_date,
        "format_instant": format_instant,
        "format_due": format_due,
        "machine_time": machine_time,
        "describe_agent": describe_agent,
        "format_distance": format_distance,
        "format_month": format_month,
        "format_figure": eligibility.format_value,
        "kept_sparkline": kept_sparkline,
        "row_url": RowUrl,
        "location_consent": location_consent,
    }
    app.context_processor(lambda: helpers)
    app.context_processor(_signed_in_user)


def _signed_in_user() -> dict:
    """The signed-in user (or the anonymous one) itself, in place of Flask-Login's proxy: a page
    reads `current_user` dozens of times, and the proxy looks the user up again each time.
    Registered after Flask-Login's own, so this one holds."""
    return {"current_user": current_user._get_current_object()}
