"""The sync centre: what this phone keeps to send, sent and was refused (drawn from its outbox)."""

from __future__ import annotations

from flask import Blueprint, render_template

from crm import scope

bp = Blueprint("sync", __name__)


@bp.route("/sync")
@scope.allow("signed_in")
def index():
    # The list lives on the phone (IndexedDB): js/sync-centre.js draws it into this page.
    return render_template("sync/index.html")
