"""The decision queue: pending stage-change requests, one form per card, pages of 25 with
filters in the URL, and bulk approval of the ticked eligible requests after a confirmation.

A card's form is bound to what was posted only on the card that sent it: every other card is
drawn from its own record, so one card's note or error can never show on another.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from crm import scope
from crm.clock import now, today
from crm.forms.pipeline import BulkApproveForm, DecideForm, QueueFilterForm
from crm.models import StageChange
from crm.services.growth import eligibility, promotions, snapshots
from crm.services.pipeline import board as board_service
from crm.services.pipeline import overview as pipeline
from crm.services.pipeline import queue
from crm.values import id_or_none, ids_of, page_number
from crm.views.errors import save_form
from crm.views.pipeline import bp
from crm.views.templating import belt_name, column_label


@dataclass
class Card:
    change: StageChange
    check: eligibility.Eligibility
    form: DecideForm
    approvable: bool  # may go in the bulk approval
    waiting_days: int  # since the request, in the install's days
    failed: bool = False  # the card whose decision was just refused


def queue_filters() -> tuple[QueueFilterForm, queue.QueueFilters]:
    """The queue's filters in the URL query, kept to values that mean something."""
    form = QueueFilterForm(
        request.args,
        belt_choices=[
            (str(belt.id), belt_name(belt)) for belt in board_service.belt_choices(current_user)
        ],
        rep_choices=[
            ("unowned", _("Nobody's yet")),
            *((str(rep.id), rep.name) for rep in board_service.rep_choices(current_user)),
        ],
        stage_choices=[(column, column_label(column)) for column in queue.COLUMNS],
    )
    form.validate()
    belt, rep = form.belt.data or "", form.rep.data or ""
    filters = queue.QueueFilters(
        belt=belt if id_or_none(belt) else "",
        rep=rep if id_or_none(rep) or rep == "unowned" else "",
        stage=form.stage.data if form.stage.data in queue.COLUMNS else "",
        since=None if form.since.errors else form.since.data,
        order=form.order.data if form.order.data in queue.ORDERS else "",
        page=page_number(request.args.get("page")),
    )
    return form, filters


def _card_form(change_id: int, *, posted: bool) -> DecideForm:
    # Only the card that was sent reads the posted fields; ids made unique per card.
    form = DecideForm() if posted else DecideForm(formdata=None)
    for field in form:
        field.id = field.label.field_id = f"{field.name}-{change_id}"
    return form


def _queue_page(
    filter_form: QueueFilterForm,
    filters: queue.QueueFilters,
    failed: tuple[StageChange, DecideForm] | None = None,
    status: int = 200,
):
    moment = now()
    listing = queue.page(current_user, filters, today(moment))
    changes = listing.changes
    if failed is not None and failed[0] not in changes:
        changes = [failed[0], *changes]  # the refused card stays in sight with its message
    checks = eligibility.evaluate_many([change.factory for change in changes], moment)
    cards = []
    for change in changes:
        mine = failed is not None and failed[0].id == change.id
        form = failed[1] if mine else _card_form(change.id, posted=False)
        check = checks[change.factory_id]
        approvable = change.decision == "pending" and pipeline.bulk_approvable(change, check)
        waiting = (today(moment) - today(change.requested_at)).days
        cards.append(Card(change, check, form, approvable, waiting, failed=mine))
    return render_template(
        "pipeline/requests.html",
        cards=cards,
        listing=listing,
        filters=listing.filters,
        filter_form=filter_form,
        bulk_form=BulkApproveForm(formdata=None),
        metrics=snapshots.metric_catalogue(),
    ), status


@bp.route("/requests")
@scope.allow("manage")
def requests():
    filter_form, filters = queue_filters()
    return _queue_page(filter_form, filters, status=422 if filter_form.errors else 200)


@bp.route("/requests/<int:change_id>/decide", methods=["POST"])
@scope.allow("manage")
def decide(change_id: int):
    moment = now()
    change = scope.get_stage_change(current_user, change_id, today(moment))
    filter_form, filters = queue_filters()
    form = _card_form(change.id, posted=True)
    approve = form.decision.data == "approve"
    decided = form.validate_on_submit() and save_form(
        form,
        lambda: promotions.decide(
            current_user,
            change,
            approve,
            form.note.data or "",
            moment,
            override=bool(form.override.data),
        ),
    )
    if not decided:
        return _queue_page(filter_form, filters, failed=(change, form), status=422)
    if decided.decision == "approved":
        flash(_("Approved: %(name)s moves up.", name=change.factory.name), "success")
    else:
        flash(_("Refused: %(name)s stays.", name=change.factory.name), "info")
    return redirect(url_for("pipeline.requests", **filters.query()), code=303)


@bp.route("/requests/approve", methods=["POST"])
@scope.allow("manage")
def approve_eligible():
    """Approve the ticked requests whose factory is eligible, once a page has named them."""
    form = BulkApproveForm()
    filter_form, filters = queue_filters()
    ids = ids_of(request.form.getlist("change_ids"))
    if not form.validate_on_submit() or not ids:
        flash(_("Tick the eligible requests to approve first."), "warning")
        return _queue_page(filter_form, filters, status=422)
    if form.confirm.data != "yes":
        return _confirmation(ids, filters)
    result = save_form(form, lambda: pipeline.approve_eligible(current_user, ids, now()))
    if result is None:
        return _queue_page(filter_form, filters, status=422)
    approved, skipped = result
    if approved:
        flash(
            ngettext("Approved %(num)d request.", "Approved %(num)d requests.", len(approved)),
            "success",
        )
    if skipped:
        names = ", ".join(change.factory.name for change in skipped)
        flash(_("Not approved, no longer eligible or decided: %(names)s.", names=names), "warning")
    return redirect(url_for("pipeline.requests", **filters.query()), code=303)


def _confirmation(ids: list[int], filters: queue.QueueFilters):
    """The page that names what the bulk approval will move, before anything changes."""
    moment = now()
    changes = queue.chosen(current_user, ids, today(moment))
    checks = eligibility.evaluate_many([change.factory for change in changes], moment)
    ready = [
        change for change in changes if pipeline.bulk_approvable(change, checks[change.factory_id])
    ]
    left = [change for change in changes if change not in ready]
    return render_template(
        "pipeline/requests_confirm.html",
        ready=ready,
        left=left,
        filters=filters,
        form=BulkApproveForm(formdata=None, confirm="yes"),
    ), (200 if ready else 422)
