"""Field staff on a phone: today's work."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from crm import scope
from crm.clock import now
from crm.services import followups

bp = Blueprint("field", __name__)


@bp.route("/today")
@scope.allow("staff")
def today():
    agenda = followups.agenda(current_user, now())
    return render_template("field/today.html", agenda=agenda)
