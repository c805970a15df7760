"""Managers over their belts: the pipeline overview, and the export of the decision queue.

The decision queue itself, the board, the stuck factories, the team page, the reports and
reassignment live in their own modules (crm/views/pipeline/*.py), registered on this blueprint.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, export, scope
from crm.clock import now, today
from crm.services.growth import eligibility
from crm.services.pipeline import overview as pipeline
from crm.services.pipeline import queue
from crm.views import downloads
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


@bp.route("/requests/export")
@scope.allow("manage")
def export_requests():
    """The queue under its filters (every page of it), as the queue shows them."""
    moment = now()
    _form, filters = decisions.queue_filters()
    changes = queue.every(current_user, filters, today(moment))
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
from crm.views.pipeline import (  # noqa: E402,F401
    board,
    decisions,
    flagged,
    leaves,
    reassign,
    reports,
    stuck,
    team,
)
