"""Managers over their belts: the pipeline overview, and the queue of stage-change decisions.

The board, the stuck factories, the team page, the reports and reassignment live in their
own modules (crm/views/pipeline/*.py), registered on this blueprint.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from crm import clock, export, scope
from crm.clock import now, today
from crm.forms.pipeline import BulkApproveForm, DecideForm
from crm.services.growth import eligibility, promotions
from crm.services.pipeline import overview as pipeline
from crm.values import ids_of
from crm.views import downloads
from crm.views.errors import save_form
from crm.views.templating import belt_name, column_label

bp = Blueprint("pipeline", __name__, url_prefix="/pipeline")


@bp.route("/")
@scope.allow("staff")
def index():
    on = today()
    rows, totals = pipeline.counts_by_belt(current_user, on)
    return render_template(
        "pipeline/index.html",
        rows=rows,
        totals=totals,
        columns=pipeline.stage_columns(),
        pending=pipeline.pending_requests_count(current_user, on),
    )


def _requests_page(forms: dict | None = None, status: int = 200):
    moment = now()
    changes = pipeline.pending_requests(current_user, today(moment))
    checks = eligibility.evaluate_many([change.factory for change in changes], moment)
    forms = forms or {}
    entries = [
        (change, checks[change.factory_id], forms.get(change.id, DecideForm()))
        for change in changes
    ]
    eligible = [
        change for change, check, _form in entries if pipeline.bulk_approvable(change, check)
    ]
    return render_template(
        "pipeline/requests.html",
        entries=entries,
        eligible=eligible,
        bulk_form=BulkApproveForm(),
    ), status


@bp.route("/requests")
@scope.allow("manage")
def requests():
    return _requests_page()


@bp.route("/requests/<int:change_id>/decide", methods=["POST"])
@scope.allow("manage")
def decide(change_id: int):
    moment = now()
    change = scope.get_stage_change(current_user, change_id, today(moment))
    form = DecideForm()
    approve = form.decision.data == "approve"
    decided = form.validate_on_submit() and save_form(
        form, lambda: promotions.decide(current_user, change, approve, form.note.data, moment)
    )
    if not decided:
        return _requests_page({change.id: form}, 422)
    if decided.decision == "approved":
        flash(_("Approved: %(name)s moves up.", name=change.factory.name), "success")
    else:
        flash(_("Refused: %(name)s stays.", name=change.factory.name), "info")
    return redirect(url_for("pipeline.requests"), code=303)


@bp.route("/requests/approve", methods=["POST"])
@scope.allow("manage")
def approve_eligible():
    """Approve every ticked request whose factory is eligible; the others wait, and are named."""
    form = BulkApproveForm()
    ids = ids_of(request.form.getlist("change_ids"))
    if not form.validate_on_submit() or not ids:
        flash(_("Tick the eligible requests to approve first."), "warning")
        return _requests_page(status=422)
    result = save_form(form, lambda: pipeline.approve_eligible(current_user, ids, now()))
    if result is None:
        return _requests_page(status=422)
    approved, skipped = result
    if approved:
        flash(
            ngettext("Approved %(num)d request.", "Approved %(num)d requests.", len(approved)),
            "success",
        )
    if skipped:
        names = ", ".join(change.factory.name for change in skipped)
        flash(_("Not approved, no longer eligible or decided: %(names)s.", names=names), "warning")
    return redirect(url_for("pipeline.requests"), code=303)


@bp.route("/requests/export")
@scope.allow("manage")
def export_requests():
    moment = now()
    changes = pipeline.pending_requests(current_user, today(moment))
    checks = eligibility.evaluate_many([change.factory for change in changes], moment)
    header = [
        _("Request id"),
        _("Factory id"),
        _("Factory"),
        _("Belt"),
        _("From"),
        _("To"),
        _("Asked by"),
        _("Asked on"),
        _("Reason"),
        _("Eligible"),
        _("Required items left"),
    ]
    rows = (
        [
            change.id,
            change.factory_id,
            change.factory.name,
            belt_name(change.factory.belt),
            column_label(_column(change.from_status, change.from_stage)),
            column_label(_column(change.to_status, change.to_stage)),
            change.requested_by.name if change.requested_by else "",
            clock.local(change.requested_at).strftime("%Y-%m-%d %H:%M"),
            change.reason,
            _("yes") if checks[change.factory_id].eligible else "",
            len(checks[change.factory_id].blocking),
        ]
        for change in changes
    )
    name = f"pipeline-promotions-{today(moment):%Y-%m-%d}"
    return export.response(downloads.chosen_format(request.args), name, header, rows)


def _column(status: str | None, stage: str | None) -> str:
    return stage if status == "active" and stage else (status or "")


# The other pipeline pages live in their own modules, on this blueprint.
from crm.views.pipeline import board, leaves, reassign, reports, stuck, team  # noqa: E402,F401
