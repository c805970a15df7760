"""The privacy notice: what the install keeps, why, for how long, who sees it, and how a person
uses their rights. Public (the sign-in page and every page's footer link to it); drawn from the
same list as the admin's record of processing (crm.services.privacy.processing)."""

from __future__ import annotations

from flask import Blueprint, render_template

from crm import scope
from crm.services.install import settings
from crm.services.privacy import consent, processing

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


@bp.route("/")
@scope.allow("public")
def notice():
    return render_template(
        "privacy/notice.html",
        kinds=processing.with_days(),
        notice_version=consent.NOTICE_VERSION,
        radius_m=settings.get("checkin_radius_m"),
    )
