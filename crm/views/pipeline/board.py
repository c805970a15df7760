"""The pipeline board: columns of cards with filters in the URL, "more" by the page, the move
dialog (opened by dragging a card or from its menu), and the board's export."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_translations
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, export, scope
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.forms.pipeline import BoardFilterForm, MoveForm
from crm.models import STAGES, Factory, StageChange
from crm.services.factories import search as factory_search
from crm.services.factories.search import SEARCH_MAX
from crm.services.pipeline import board as board_service
from crm.services.pipeline import board_moves
from crm.values import PAGE_MAX, id_or_none, page_number, whole_or
from crm.views import downloads
from crm.views.errors import save_form
from crm.views.kept import RowUrl, current_locale, words_once
from crm.views.pipeline import bp
from crm.views.templating import belt_name, column_label, stage_label

START_MAX = PAGE_MAX * board_service.CARDS_PER_PAGE


class CardKit:
    """What every card of a page repeats, worked out once: its links and its words.

    A board showed up to 180 cards; building their links with url_for and translating the
    same words per card was most of the page's time. The links come from RowUrl (one url_for
    each) and the filters' query encoded once, the words from one catalogue lookup, and a
    card's own numbers go into strings translated once: the translations and links a page
    makes do not grow with its cards.
    """

    def __init__(self, filters: board_service.BoardFilters) -> None:
        self.move_url = RowUrl("pipeline.move", "factory_id", **filters.query())
        self.factory_url = RowUrl("factories.show", "factory_id")
        self._more = url_for("pipeline.board_more")
        self._query = urlencode(filters.query())
        self.locale = current_locale()
        self.words = words_once("board_card", _card_words)
        self._catalogue = get_translations()
        self._columns: dict[str, str] = {}

    def days(self, column: str, days: int) -> str:
        if column == "prospect":
            text = self._catalogue.ungettext(
                "%(num)d day as a prospect", "%(num)d days as a prospect", days
            )
        else:
            text = self._catalogue.ungettext("%(num)d day in stage", "%(num)d days in stage", days)
        return text % {"num": days}

    def more_url(self, column: str, **where: int) -> str:
        """A column's "more": `start` (the cards after those shown) or its own `page`."""
        query = "&".join(
            part for part in (urlencode({"column": column, **where}), self._query) if part
        )
        return f"{self._more}?{query}"

    def progress(self, done: int, total: int) -> str:
        return self.words["progress"] % {"done": done, "total": total}

    def move_label(self, name: str) -> str:
        return self.words["move_named"] % {"name": name}

    def pending(self, column: str) -> str:
        """A pending request's badge: where it asks the factory to go."""
        if column not in self._columns:
            self._columns[column] = column_label(column)
        return self.words["pending"] % {"column": self._columns[column]}


def _card_words() -> dict[str, str]:
    # Translated with their placeholders left in: each card's values go in by the kit.
    return {
        "no_rep": _("No rep yet"),
        "overdue": _("Overdue"),
        "stale": _("Stale"),
        "eligible": _("Ready to promote"),
        "offsite": _("Off-site"),
        "key": _("Key account"),
        "move": _("Move…"),
        "move_named": _("Move %(name)s"),
        "progress": _("%(done)d of %(total)d required done"),
        "pending": _("Request waiting: to %(column)s"),
    }


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def board_filters() -> tuple[BoardFilterForm, board_service.BoardFilters]:
    """The filters in the URL query, kept to values that mean something."""
    moment = clock.now()
    form = BoardFilterForm(
        request.args,
        belt_choices=[
            (str(belt.id), belt_name(belt)) for belt in board_service.belt_choices(current_user)
        ],
        rep_choices=_rep_choices(),
        category_choices=[
            (name, name) for name in board_service.category_choices(current_user, moment)
        ],
        flag_choices=[
            ("stale", _("Stale: not visited for too long")),
            ("overdue", _("Overdue follow-up")),
            ("eligible", _("Ready to promote")),
            ("offsite", _("Off-site check-ins")),
        ],
    )
    rep = form.rep.data or ""
    name = " ".join((form.q.data or "").split())[:SEARCH_MAX]
    if name:
        try:
            factory_search.read_query(name)
        except Invalid as error:
            form.q.errors = [error.message]
    filters = board_service.BoardFilters(
        belt=(form.belt.data or "") if id_or_none(form.belt.data) else "",
        rep=rep if id_or_none(rep) or rep in ("unowned", "mine") else "",
        category=(form.category.data or "")[: board_service.CATEGORY_MAX],
        key=form.key.data if form.key.data in ("yes", "no") else "",
        flag=form.flag.data if form.flag.data in board_service.FLAGS else "",
        order=form.order.data if form.order.data in board_service.ORDERS else "",
        q=name,
    )
    return form, filters


def _rep_choices() -> list[tuple[str, str]]:
    if current_user.role == "rep":
        return [("mine", _("Mine")), ("unowned", _("Unowned prospects"))]
    reps = board_service.rep_choices(current_user)
    return [("unowned", _("Nobody's yet")), *((str(rep.id), rep.name) for rep in reps)]


@bp.route("/board")
@scope.allow("staff")
def board():
    form, filters = board_filters()
    result = board_service.build(current_user, filters, clock.now())
    return render_template(
        "pipeline/board.html",
        board=result,
        form=form,
        filters=filters,
        kit=CardKit(filters),
        folded=board_service.FOLDED,
    )


@bp.route("/board/more")
@scope.allow("staff")
def board_more():
    """More of one column: for htmx, the cards after the `start` the board shows already, as a
    fragment; otherwise a `page` of the column, as a page of its own."""
    _form, filters = board_filters()
    code = request.args.get("column", "")
    start = (page_number(request.args.get("page"), default=2) - 1) * board_service.CARDS_PER_PAGE
    if is_htmx():
        start = whole_or(request.args.get("start"), start, 0, START_MAX)
    column = board_service.column_cards(current_user, filters, code, start, clock.now())
    template = "pipeline/_more.html" if is_htmx() else "pipeline/column.html"
    return render_template(template, column=column, filters=filters, kit=CardKit(filters))


@bp.route("/board/<int:factory_id>/move", methods=["GET", "POST"])
@scope.allow("staff")
def move(factory_id: int):
    moment = clock.now()
    factory = scope.get_factory(current_user, factory_id, clock.today(moment))
    _form, filters = board_filters()
    target = request.values.get("to", "")
    if request.method == "GET":
        return _move_page(factory, target, MoveForm(formdata=None, to=target), filters)
    form = MoveForm()
    column_before = board_service.column_of(factory)
    try:
        moved = form.validate_on_submit() and save_form(
            form,
            lambda: board_moves.move(
                current_user,
                factory,
                form.to.data,
                form.reason.data or "",
                bool(form.override.data),
                moment,
            ),
        )
    except Conflict as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _move_page(factory, target, form, filters, status=422 if is_htmx() else 409)
    if not moved:
        return _move_page(factory, target, form, filters, status=422)
    if is_htmx():
        return _moved_in_place(moved, factory, column_before, filters)
    flash(_moved_message(moved, factory), "success")
    return redirect(url_for("pipeline.board", **filters.query()), code=303)


def _moved_in_place(
    change: StageChange, factory: Factory, column_before: str, filters: board_service.BoardFilters
):
    """The board's answer to a move made in its dialog: the card in its new place, the counts
    and the message, swapped into the page as it stands (its scroll and opened columns kept)."""
    moment = clock.now()
    card = board_service.card(current_user, factory.id, moment, filters)
    return render_template(
        "pipeline/_moved.html",
        card=card,
        factory=factory,
        column_before=column_before,
        counts=board_service.counts(current_user, filters, moment),
        message=_moved_message(change, factory),
        filters=filters,
        kit=CardKit(filters),
    )


def _move_page(
    factory: Factory,
    target: str,
    form: MoveForm,
    filters: board_service.BoardFilters,
    status: int = 200,
):
    plan = board_moves.plan_move(current_user, factory, target, clock.now())
    if plan.override:
        form.reason.label.text = _("Reason (needed for an override)")
    elif not plan.direct:
        form.reason.label.text = _("Note for the manager (optional)")
    else:
        form.reason.label.text = _("Reason (optional)")
    template = "pipeline/_move.html" if is_htmx() else "pipeline/move.html"
    body = render_template(
        template,
        plan=plan,
        factory=factory,
        form=form,
        filters=filters,
        in_dialog=is_htmx(),
        targets=board_moves.TARGETS,
        stages=STAGES,
        column_of=board_service.column_of,
    )
    return body, status


def _moved_message(change: StageChange, factory: Factory) -> str:
    if change.decision == "pending":
        return _(
            "Requested: %(name)s to %(column)s. The factory's managers decide it.",
            name=factory.name,
            column=column_label(change.to_stage or change.to_status),
        )
    if change.to_status in ("paused", "churned"):
        return _(
            "%(name)s is %(status)s now.",
            name=factory.name,
            status=column_label(change.to_status),
        )
    return _(
        "Moved: %(name)s is in %(stage)s now.",
        name=factory.name,
        stage=stage_label(change.to_stage),
    )


@bp.route("/board/export")
@scope.allow("manage")
def export_board():
    """Every card the board's filters select, in every column and page, as the board orders them."""
    _form, filters = board_filters()
    header = [
        _("Column"),
        _("Id"),
        _("Factory"),
        _("Credit code"),
        _("Belt id"),
        _("Belt"),
        _("Category"),
        _("Rep id"),
        _("Rep"),
        _("Days in stage"),
        _("Required items done"),
        _("Required items"),
        _("Stale"),
        _("Overdue follow-up"),
        _("Ready to promote"),
        _("Off-site check-ins"),
        _("Key account"),
        _("Last visit"),
        _("Next follow-up"),
    ]
    yes, locale = _("yes"), current_locale()
    cards = board_service.export_cards(current_user, filters, clock.now())
    rows = (
        [
            column_label(card.column),
            card.id,
            card.name,
            card.row.credit_code,
            card.row.belt_id,
            card.belt_name(locale),
            card.row.category,
            card.row.owner_id,
            card.owner_name or "",
            card.days,
            card.required_done,
            card.required_total,
            yes if card.stale else "",
            yes if card.overdue else "",
            yes if card.eligible else "",
            yes if card.offsite else "",
            yes if card.is_key_account else "",
            _local(card.row.last_visit_at),
            _local(card.row.next_follow_up_at),
        ]
        for card in cards
    )
    return export.response(
        downloads.chosen_format(request.args), export_name("board"), header, rows
    )


def _local(instant):
    return clock.local(instant).strftime("%Y-%m-%d %H:%M") if instant else ""


def export_name(what: str) -> str:
    return f"pipeline-{what}-{clock.today():%Y-%m-%d}"
