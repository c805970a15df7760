"""The record of processing (PIPL Art. 55): which personal information the install holds, for
which purpose, its retention setting and how many rows there are now; ready for a personal
information protection impact assessment."""

from __future__ import annotations

from flask import render_template

from crm import clock, scope
from crm.services.privacy import consent, processing
from crm.views.admin import bp


@bp.route("/privacy")
@scope.allow("admin")
def privacy():
    return render_template(
        "admin/privacy.html",
        kinds=processing.with_days(),
        counts=processing.counts(),
        consents=consent.tally(),
        notice_version=consent.NOTICE_VERSION,
        at=clock.now(),
    )
