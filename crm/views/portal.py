"""The factory's own portal: its stage and checklist, its next visit, its rep."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from crm import scope
from crm.clock import today
from crm.services import checklist, followups

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.route("/")
@scope.allow("factory")
def index():
    factory = scope.get_factory(current_user, current_user.factory_id, today())
    return render_template(
        "portal/index.html",
        factory=factory,
        checklist=checklist.for_factory(factory),
        next_follow_up=followups.next_open(factory),
    )
