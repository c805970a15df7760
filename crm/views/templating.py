"""What every template may call: navigation, labels for codes, dates in the install's zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TypeVar

from babel import Locale
from babel.support import NullTranslations, Translations
from flask import Flask, current_app, g, has_request_context, render_template, request, url_for
from flask_babel import format_date as babel_format_date
from flask_babel import get_locale, get_translations
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape

from crm import cache, clock
from crm.services.growth import eligibility, snapshots
from crm.services.privacy import consent, erasure
from crm.values import ID_MAX

T = TypeVar("T")

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


def _for_language(name: str, build: Callable[[], T]) -> T:
    """What `build` gives in the request's language, made once while that language holds.

    Flask-Babel walks the request's context for every string, date and locale it is asked
    for: microseconds each, hundreds a page. What is made here is kept beside its locale on
    Flask-Babel's own context; a `force_locale` block sets another locale object, so inside it
    (and after it) what is asked for is made again.
    """
    if not g:
        return build()
    babel_context = g.get("_flask_babel")
    held = getattr(babel_context, name, None)
    if held is not None and held[0] is getattr(babel_context, "babel_locale", None):
        return held[1]
    value = build()
    babel_context = g.get("_flask_babel")  # the lookup made it, and chose the locale
    if babel_context is not None:
        setattr(babel_context, name, (getattr(babel_context, "babel_locale", None), value))
    return value


def translations() -> Translations | NullTranslations:
    """This request's catalogue (Flask-Babel's `get_translations`, looked up once)."""
    return _for_language("crm_translations", get_translations)


def request_locale() -> Locale | None:
    """This request's locale (Flask-Babel's `get_locale`, chosen once)."""
    return _for_language("crm_locale", get_locale)


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


def current_locale() -> str:
    return _for_language("crm_locale_name", lambda: str(get_locale() or "en"))


def words_once(name: str, build: Callable[[], dict[str, str]]) -> dict[str, str]:
    """The words that `build` translates, looked up once per process, language and version of
    what the process keeps (crm.cache: a stage's name may change): what every row of a list
    repeats, and every page its chrome. Outside a request (a job's e-mail, in the language of
    each person it writes to) and while a transaction changes the kept definitions, once per
    request or job instead."""
    key = (name, current_locale())
    held = g.setdefault("crm_words", {})  # what this request looked up already
    found = held.get(key)
    if found is not None:
        return found
    version = cache.version() if has_request_context() else None
    if version is None:
        found = held[key] = build()
        return found
    kept = current_app.extensions.setdefault("crm_words", {})
    found = kept.get((*key, version))
    if found is None:
        found = build()
        if len(kept) >= WORDS_KEPT:  # the words of versions gone by: begin again
            kept.clear()
        kept[(*key, version)] = found
    held[key] = found
    return found


# How many sets of words a process keeps at most (each list's, per language and version).
WORDS_KEPT = 200


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


class RowUrl:
    """A link for each row of a list from one `url_for`: the built URL around the row's id.

    Building a URL per row costs a route lookup each time (Today drew hundreds per page);
    this builds it once with a marker id and puts each row's id in the marker's place.
    """

    def __init__(self, endpoint: str, field: str, **values: object) -> None:
        built = url_for(endpoint, **{field: ID_MAX}, **values)
        self.before, marker, self.after = built.partition(str(ID_MAX))
        if not marker:
            raise ValueError(f"{endpoint} does not put {field} in its URL")

    def __call__(self, row_id: int) -> str:
        return f"{self.before}{int(row_id)}{self.after}"


class RowFragment:
    """The same fragment for each row of a list (a blank form per row, its URL and field ids
    apart): rendered around a marker id, each row's id put in the marker's place.

    What it renders must depend only on the language, the row's id and the session's CSRF
    token, as a blank form does: each process renders it once per language and keeps it, the
    request's own token put back in each time (rendering the portal's hand-in form cost a
    sixth of its page). `context` makes what the template is given, when it is rendered;
    `variant` holds whatever else the rendering depends on (a day, a choice, crm.cache's
    version for choices read from kept definitions), so that each variant is kept apart.
    `also` names a second id of the row that the fragment holds (a follow-up's factory), put
    in its own marker's place.
    """

    def __init__(
        self,
        template: str,
        field: str,
        context: Callable[[], dict],
        variant: tuple = (),
        also: str | None = None,
    ) -> None:
        kept = current_app.extensions.setdefault("crm_fragments", {})
        key = (template, field, also, current_locale(), request.script_root, *variant)
        token = generate_csrf()
        html = kept.get(key)
        if html is None:
            row = {"id": ID_MAX, **({also: _ALSO_MARK} if also else {})}
            html = render_template(template, **{field: row}, **context())
            html = html.replace(token, _TOKEN_MARK)
            if not current_app.jinja_env.auto_reload and None not in variant:
                if len(kept) >= FRAGMENTS_KEPT:  # variants of days gone by: begin again
                    kept.clear()
                kept[key] = html
        self.parts = html.replace(_TOKEN_MARK, token).split(str(ID_MAX))
        self.pieces = [part.split(str(_ALSO_MARK)) for part in self.parts] if also else None

    def __call__(self, row_id: int, also_id: int | None = None) -> Markup:
        row = str(int(row_id))
        if self.pieces is None:
            return Markup(row.join(self.parts))
        also = str(int(also_id))
        return Markup(row.join(also.join(pieces) for pieces in self.pieces))


_ALSO_MARK = ID_MAX - 1  # the second id's marker: neither holds the other's digits
_TOKEN_MARK = "\x00csrf-token\x00"  # no rendered page holds a NUL
# How many rendered fragments a process keeps at most (a few KB each).
FRAGMENTS_KEPT = 1000


def _day_text(day: date, pattern: str) -> str:
    """A day in the reader's language, formatted once per request (lists repeat their days
    and months: a chart's six months, a history's dates)."""
    key = (day, pattern, request_locale())
    texts = g.setdefault("day_texts", {})
    if key not in texts:
        texts[key] = babel_format_date(day, pattern)
    return texts[key]


def format_date(day: date) -> str:
    return _day_text(day, "medium")


def format_month(month: date) -> str:
    """ "Oct 2026", "2026年10月": a month in the reader's language."""
    return _day_text(month, "MMM y")


def format_instant(instant: datetime) -> str:
    local = clock.local(instant)
    return f"{_day_text(local.date(), 'medium')} {local:%H:%M}"


def format_due(instant: datetime) -> str:
    """ "14:00" today, "Tomorrow 10:00", otherwise the date and time, in the install's zone."""
    local = clock.local(instant)
    days = (local.date() - clock.today()).days
    near = words_once("due", _due_words).get(str(days))
    if near is not None:
        return near % {"time": f"{local:%H:%M}"}
    return format_instant(instant)


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


def format_distance(metres: float) -> str:
    """ "80 m", "1.2 km": how far a check-in was from the factory."""
    if metres < 1000:
        return _("%(metres)d m", metres=round(metres))
    return _("%(km).1f km", km=metres / 1000)


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


def page_url(endpoint: str, **values: object) -> str:
    """`url_for` in templates: the links every page draws (its menus, its static files: those
    with no values but a static file's name) built once per process, as they never change while
    it runs; any other link is built as Flask builds it."""
    if (
        set(values) - {"filename"}
        or (values and endpoint != "static")
        or not has_request_context()
        or current_app.jinja_env.auto_reload  # a static file edited while the app runs
    ):
        return url_for(endpoint, **values)
    kept = current_app.extensions.setdefault("crm_urls", {})
    key = (endpoint, values.get("filename"), request.script_root)
    found = kept.get(key)
    if found is None:
        found = kept[key] = url_for(endpoint, **values)
    return found


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
        "row_url": RowUrl,
        "location_consent": location_consent,
    }
    app.context_processor(lambda: helpers)
