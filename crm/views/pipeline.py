"""Managers over their belts: the pipeline of factories per stage."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from crm import scope
from crm.clock import today
from crm.services import pipeline

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
