"""What an admin tunes, stored in the database with defaults here (DESIGN.md "Settings")."""

from __future__ import annotations

from typing import Any

from crm import cache
from crm.extensions import db
from crm.models import Setting, User
from crm.services.install import audit

DEFAULTS: dict[str, Any] = {
    "checkin_radius_m": 300,
    "checkin_accuracy_m": 100,
    "position_max_age_s": 120,
    "freshness_days": 45,
    # Each stage's expected time in days; a stage left out (University) is never long in stage.
    "long_in_stage_days": {"elementary": 60, "junior": 120, "senior": 180},
    "photo_required_purposes": ["video_shoot"],
    # Purposes whose visit needs a photo taken on the spot (crm.services.trust.photo_flags):
    # none by default, as the phone's reading of a capture time is new.
    "photo_on_the_spot_purposes": [],
    "second_factor_required": False,
    # Retention (crm.services.install.retention, run daily by crm.jobs.retention), in days: the
    # audit log's entries (the key is older than the other kinds), check-in positions kept exact
    # (then coarsened to about a kilometre), visit photos and voice notes, failed sign-ins and
    # sign-in sessions (by when last seen), and finished e-mail and team robot deliveries.
    "retention_days": 1825,
    "position_retention_days": 180,
    "media_retention_days": 730,
    "sign_in_retention_days": 90,
    "delivery_retention_days": 365,
    "map_tile_url": "",
    "rate_limit_api": "300 per minute",
    # "Keep me signed in" ticked on the sign-in page: field staff stay signed in on their phones
    # (and their offline pages with them); a shared phone unticks it.
    "stay_signed_in": True,
    # Team robots may be posted to any host, over http too (crm.services.notices.robot_address):
    # an operator's choice for an intranet robot, and the tests' local receiver.
    "webhook_private_hosts_allowed": False,
}


def get(key: str) -> Any:
    """A setting's value: the admin's, or the default (kept by each process: crm.cache)."""
    if key not in DEFAULTS:
        raise KeyError(key)
    stored = cache.settings()
    return stored[key] if key in stored else DEFAULTS[key]


def put(actor: User, key: str, value: Any) -> None:
    """Store an admin's value for a setting, audited with its before and after."""
    if key not in DEFAULTS:
        raise KeyError(key)
    before = get(key)
    row = db.session.get(Setting, key)
    if row is None:
        row = Setting(key=key)
        db.session.add(row)
    row.value = value
    row.updated_by_id = actor.id
    if before != value:
        audit.record(actor, "setting", None, "change_setting", {key: (before, value)})
    db.session.flush()
