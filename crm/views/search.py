"""The search box in the header and its results page: factories and contacts in scope."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from crm import clock, scope
from crm.errors import Invalid
from crm.services.factories import search
from crm.values import read_text

bp = Blueprint("search", __name__, url_prefix="/search")


def _found(limit: int) -> tuple[search.Results | None, str, str]:
    """The results of `?q=` (none for an empty query), the text as typed and a problem."""
    raw = request.args.get("q", "")
    try:
        typed = read_text(raw, newlines=False)
    except ValueError as error:
        return None, "", str(error)
    if not typed.strip():
        return None, typed, ""
    try:
        query = search.read_query(typed)
    except Invalid as error:
        return None, typed[: search.QUERY_MAX], error.message
    return search.search(current_user, query, clock.today(), limit), typed, ""


@bp.route("")
@scope.allow("staff")
def index():
    results, typed, problem = _found(search.PAGE_LIMIT)
    page = render_template(
        "search/index.html", results=results, typed=typed, problem=problem, marked=search.marked
    )
    # As one types, a query still too short is a message under the field, not a failure
    # (htmx would log every keystroke's refusal); the page sent whole answers 422.
    typing = request.headers.get("HX-Request") == "true"
    return page, 422 if problem and not typing else 200


@bp.route("/box")
@scope.allow("staff")
def box():
    """The header box's results as one types (an htmx fragment; without JS the box's form goes
    to the results page)."""
    results, typed, problem = _found(search.BOX_LIMIT)
    return render_template(
        "search/_box_results.html",
        results=results,
        typed=typed,
        problem=problem,
        marked=search.marked,
    )
