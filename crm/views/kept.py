"""What is made once and kept: per request, the language, its catalogue and the words a page
repeats; per process, the links every page draws, a list's fixed words and its blank row
fragments (each row's ids and the session's token put in their places)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from babel import Locale
from babel.support import NullTranslations, Translations
from flask import current_app, has_request_context, render_template, request, url_for
from flask.globals import _cv_app, _cv_request
from flask_babel import get_locale, get_translations
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from crm import cache
from crm.values import ID_MAX

T = TypeVar("T")


def _for_language(name: str, build: Callable[[], T]) -> T:
    """What `build` gives in the request's language, made once while that language holds.

    Flask-Babel walks the request's context for every string, date and locale it is asked
    for: microseconds each, hundreds a page. What is made here is kept beside its locale on
    Flask-Babel's own context; a `force_locale` block sets another locale object, so inside it
    (and after it) what is asked for is made again.
    """
    # Flask's context variable read directly: `g` through its proxy costs a few microseconds,
    # and a page asks hundreds of times.
    app_context = _cv_app.get(None)
    if app_context is None:
        return build()
    globals_ = app_context.g
    babel_context = globals_.get("_flask_babel")
    held = getattr(babel_context, name, None)
    if held is not None and held[0] is getattr(babel_context, "babel_locale", None):
        return held[1]
    value = build()
    babel_context = globals_.get("_flask_babel")  # the lookup made it, and chose the locale
    if babel_context is not None:
        setattr(babel_context, name, (getattr(babel_context, "babel_locale", None), value))
    return value


def translations() -> Translations | NullTranslations:
    """This request's catalogue (Flask-Babel's `get_translations`, looked up once)."""
    return _for_language("crm_translations", get_translations)


def request_locale() -> Locale | None:
    """This request's locale (Flask-Babel's `get_locale`, chosen once)."""
    return _for_language("crm_locale", get_locale)


def current_locale() -> str:
    return _for_language("crm_locale_name", lambda: str(get_locale() or "en"))


def words_once(name: str, build: Callable[[], dict[str, str]]) -> dict[str, str]:
    """The words that `build` translates, looked up once per process, language and version of
    what the process keeps (crm.cache: a stage's name may change): what every row of a list
    repeats, and every page its chrome. Outside a request (a job's e-mail, in the language of
    each person it writes to) and while a transaction changes the kept definitions, once per
    request or job instead."""
    key = (name, current_locale())
    app_context = _cv_app.get()  # `g` and `current_app` without their proxies
    held = app_context.g.setdefault("crm_words", {})  # what this request looked up already
    found = held.get(key)
    if found is not None:
        return found
    version = cache.version() if has_request_context() else None
    if version is None:
        found = held[key] = build()
        return found
    kept = app_context.app.extensions.setdefault("crm_words", {})
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


def kept_html(key: tuple, render: Callable[[], str]) -> Markup:
    """A part of a page that `key` wholly decides (its language, its choices and the values
    chosen: no token, no id of the reader's), rendered once per process and kept; `render`
    makes it the first time. What a request puts in the key is bounded by FRAGMENTS_KEPT."""
    kept = current_app.extensions.setdefault("crm_parts", {})
    key = (*key, current_locale(), request.script_root)
    found = kept.get(key)
    if found is None:
        found = Markup(render())
        if not current_app.jinja_env.auto_reload:
            if len(kept) >= FRAGMENTS_KEPT:
                kept.clear()
            kept[key] = found
    return found


def page_url(endpoint: str, **values: object) -> str:
    """`url_for` in templates: the links every page draws (its menus, its static files: those
    with no values but a static file's name) built once per process, as they never change while
    it runs; any other link is built as Flask builds it."""
    request_context = _cv_request.get(None)  # `request` and its app without their proxies
    if (
        request_context is None
        or set(values) - {"filename"}
        or (values and endpoint != "static")
        or request_context.app.jinja_env.auto_reload  # a static file edited while it runs
    ):
        return url_for(endpoint, **values)
    kept = request_context.app.extensions.setdefault("crm_urls", {})
    key = (endpoint, values.get("filename"), request_context.request.script_root)
    found = kept.get(key)
    if found is None:
        found = kept[key] = url_for(endpoint, **values)
    return found
