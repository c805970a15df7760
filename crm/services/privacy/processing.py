"""What personal information the install keeps, why, who sees it and for how long: one list that
the privacy notice (/privacy) and the admin's record of processing (PIPL Art. 55) both show, so
that neither can say something the code does not do.

Each kind names the tables that hold it and the setting that limits how long it is kept (the
retention job, crm.jobs.retention, applies those settings); a kind kept as long as its record
has no setting. `counts` reads how many rows of each kind the install holds, for the record.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    AuditEntry,
    Contact,
    Delivery,
    LoginAttempt,
    RoutePlan,
    User,
    UserSession,
    Visit,
    VisitPhoto,
    VisitVoiceNote,
    WebhookDelivery,
    WorkRequest,
)
from crm.services.install import settings
from crm.services.privacy import takeout


@dataclass(frozen=True)
class Kind:
    """One kind of personal information the install keeps."""

    key: str
    name: object  # lazy text
    what: object
    why: object
    who: object
    sensitive: bool  # sensitive personal information (PIPL Art. 28): separate consent
    # The setting, in days, after which the retention job deletes or coarsens it; None: kept as
    # long as its record, and erased with its person (`kept` says how).
    setting: str | None
    kept: object  # what happens when its time is up, or how long it stays
    tables: tuple[str, ...]


KINDS: tuple[Kind, ...] = (
    Kind(
        "accounts",
        _l("Accounts"),
        _l(
            "Each user's name, e-mail address or mobile number, role, team or factory, language "
            "and e-mail choices. Passwords only as a one-way hash; the second factor's secret."
        ),
        _l("To sign you in, and to show who did what."),
        _l("Admins; managers see the people of their teams; colleagues see each other's names."),
        False,
        None,
        _l("As long as the account exists; an admin can erase a person who has left."),
        ("users",),
    ),
    Kind(
        "sign_in",
        _l("Sign-in records"),
        _l(
            "Signed-in devices (browser, network address, when signed in and last seen) and "
            "sign-in attempts."
        ),
        _l("To keep accounts safe: to stop password guessing and to sign out a lost phone."),
        _l("You see your own devices; admins see failed attempts."),
        False,
        "sign_in_retention_days",
        _l("Deleted after the period."),
        ("user_sessions", "login_attempts"),
    ),
    Kind(
        "positions",
        _l("Position at check-in"),
        _l(
            "Where the phone was when its user checked in at a factory: coordinates, accuracy "
            "and the time of the fix. Taken once, at check-in, and only with separate consent; "
            "never between visits. A day's route may start from the phone's position, kept "
            "for that day only."
        ),
        _l(
            "To show that a visit took place at the factory (its distance and the off-site "
            "flag), and to place a factory that has no location yet."
        ),
        _l(
            "No one sees the coordinates: staff who may see the visit see its distance to the "
            "factory."
        ),
        True,
        "position_retention_days",
        _l("Coarsened to about 1 km after the period; a route's start is forgotten after its day."),
        ("visits", "route_plans"),
    ),
    Kind(
        "visits",
        _l("Visits"),
        _l(
            "When and why a member of staff visited a factory, whom they met, internal notes and "
            "the summary shared with the factory."
        ),
        _l("The record of the work that helps a factory grow."),
        _l(
            "The rep, the managers of the factory's belt and admins; the factory sees only "
            "the shared summaries."
        ),
        False,
        None,
        _l("As long as the factory's record."),
        ("visits",),
    ),
    Kind(
        "media",
        _l("Photos and voice notes"),
        _l(
            "Photos and voice notes taken at visits, and photos a factory hands in as evidence. "
            "Stored without their location or camera details."
        ),
        _l("To show the work done and what a factory has achieved."),
        _l("Staff who may see the visit or task; the factory sees the evidence it handed in."),
        False,
        "media_retention_days",
        _l("A visit's photos and voice note are deleted after the period; the visit says so."),
        ("visit_photos", "visit_voice_notes"),
    ),
    Kind(
        "contacts",
        _l("Factory contacts"),
        _l("The names, roles, phone numbers and WeChat IDs of the people at each factory."),
        _l("To reach the factory and to know whom staff met."),
        _l("Staff who may see the factory, and the factory's own users."),
        False,
        None,
        _l("As long as the factory's record; an admin can erase a contact who asks."),
        ("contacts",),
    ),
    Kind(
        "audit",
        _l("Audit log"),
        _l(
            "Who changed what and when, with the changed fields. Personal fields are marked so "
            "that they can be erased; positions, notes and phone numbers are never copied in."
        ),
        _l("Accountability: every change that matters can be traced to the person who made it."),
        _l("Admins; staff see the history of the factories they may see."),
        False,
        "retention_days",
        _l("Deleted after the period."),
        ("audit_entries",),
    ),
    Kind(
        "exports",
        _l("Copies you take away"),
        _l(
            "The zip of your own data (or your factory's) that you asked for on your account "
            "page, until you download it."
        ),
        _l("To give you your personal information (PIPL Art. 45)."),
        _l("Only you: the link works once, for the person who asked."),
        False,
        None,
        _l("Deleted once downloaded, or a day after it was made."),
        ("work_requests",),
    ),
    Kind(
        "deliveries",
        _l("E-mails and robot messages"),
        _l("Each e-mail's address and text, and each message to a team's group robot."),
        _l("To send notifications and to show an admin what was sent or failed."),
        _l("Admins."),
        False,
        "delivery_retention_days",
        _l("Deleted after the period, once sent or given up."),
        ("deliveries", "webhook_deliveries"),
    ),
)

# The rows each kind counts in the record of processing.
_COUNTED = {
    "accounts": (select(func.count()).select_from(User),),
    "sign_in": (
        select(func.count()).select_from(UserSession),
        select(func.count()).select_from(LoginAttempt),
    ),
    "positions": (
        select(func.count()).select_from(Visit).where(Visit.lat.is_not(None)),
        select(func.count()).select_from(RoutePlan).where(RoutePlan.start_lat.is_not(None)),
    ),
    "visits": (select(func.count()).select_from(Visit),),
    "media": (
        select(func.count()).select_from(VisitPhoto),
        select(func.count()).select_from(VisitVoiceNote),
    ),
    "contacts": (select(func.count()).select_from(Contact),),
    "audit": (select(func.count()).select_from(AuditEntry),),
    "deliveries": (
        select(func.count()).select_from(Delivery),
        select(func.count()).select_from(WebhookDelivery),
    ),
    # The exports made and neither fetched nor expired yet (crm.services.privacy.takeout).
    "exports": (
        select(func.count())
        .select_from(WorkRequest)
        .where(
            WorkRequest.kind == takeout.KIND,
            WorkRequest.status == "done",
            WorkRequest.phase == "",
        ),
    ),
}


def retention_days(kind: Kind) -> int | None:
    """The kind's retention period in days as the admin set it (None: kept with its record)."""
    return int(settings.get(kind.setting)) if kind.setting else None


def with_days() -> list[tuple[Kind, int | None]]:
    """Each kind with its retention period as set now: what the notice and the record show."""
    return [(kind, retention_days(kind)) for kind in KINDS]


def counts() -> dict[str, int]:
    """How many rows of each kind the install holds now."""
    return {
        key: sum(db.session.scalar(statement) or 0 for statement in statements)
        for key, statements in _COUNTED.items()
    }
