"""Managers over their belts: the pipeline of factories per stage, and stage-change decisions."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import scope
from crm.clock import now, today
from crm.forms.pipeline import DecideForm
from crm.services import eligibility, pipeline, promotions
from crm.views.errors import save_form

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
    return render_template("pipeline/requests.html", entries=entries), status


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
