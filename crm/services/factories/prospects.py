"""A prospect added in the street: the factory, its first contact and the duplicates it may be,
in one step that a rep makes from the phone (issue 27); and a prospect that no rep owns yet,
claimed by a rep of its belt's team.

Likely duplicates in scope stop the first save with their names (the page lists them with
links) until the rep says "Save anyway"; a same credit code is refused whatever is said
(crm.services.factories.edits checks the code as for any factory).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import update

from crm import clock, scope
from crm.errors import Conflict, Invalid, NotAllowed, NotFound
from crm.extensions import db
from crm.models import PROSPECT, Belt, Factory, User
from crm.models.factory import CONTACT_NAME_MAX
from crm.services.factories import edits, factory_fields
from crm.services.field.geo import distance_m
from crm.services.install import audit
from crm.services.trust import duplicates

# What the page sends for the factory (the rest is its first contact's).
FACTORY_VALUES = ("name", "category", "address", "lat", "lng", "belt_id", "credit_code")


@dataclass(frozen=True)
class Added:
    factory: Factory
    duplicates: list[duplicates.Duplicate]


def nearest_belt_id(actor: User, lat: float | None, lng: float | None) -> int | None:
    """The actor's belt whose centre is nearest to the position (else their first belt)."""
    belts = list(db.session.scalars(scope.belts(actor).order_by(Belt.code)))
    if not belts:
        return None
    if lat is None or lng is None:
        return belts[0].id
    return min(belts, key=lambda belt: distance_m(lat, lng, belt.lat, belt.lng)).id


def candidate_of(
    values: Mapping[str, Any], contact_phone: str = "", exclude_id: int | None = None
) -> duplicates.Candidate:
    """The duplicate check's view of what was sent (bad numbers are left to the field checks)."""
    errors: dict[str, str] = {}
    lat = factory_fields.number(values.get("lat"), "lat", factory_fields.LATITUDE_RANGE, errors)
    lng = factory_fields.number(values.get("lng"), "lng", factory_fields.LONGITUDE_RANGE, errors)
    belt_id = values.get("belt_id")
    return duplicates.Candidate(
        name=str(values.get("name") or ""),
        phones=(contact_phone,) if contact_phone else (),
        credit_code=str(values.get("credit_code") or ""),
        lat=lat if lng is not None else None,
        lng=lng if lat is not None else None,
        belt_id=belt_id if isinstance(belt_id, int) else None,
        exclude_id=exclude_id,
    )


def add_prospect(
    actor: User,
    values: Mapping[str, Any],
    *,
    contact_name: str = "",
    contact_phone: str = "",
    save_anyway: bool = False,
    now: datetime,
) -> Added:
    """Create the prospect (owned by the rep who adds it) and its first contact.

    Refused with Conflict, the duplicates named by field, while likely duplicates are found
    and `save_anyway` is not given; refused with Invalid for a credit code another holds.
    """
    scope.require(actor, "create_factory")
    values = {name: value for name, value in values.items() if name in FACTORY_VALUES}
    if not str(values.get("credit_code") or "").strip():
        values.pop("credit_code", None)  # optional until stage 1 (crm.services.growth)
    errors: dict[str, str] = {}
    name = factory_fields.text(contact_name, "contact_name", CONTACT_NAME_MAX, errors)
    phone, _digits = factory_fields.phone_number(contact_phone, errors)
    if phone and not name:
        errors["contact_name"] = _("Enter the name of the person this phone reaches.")
    if errors:
        fields = {("contact_phone" if k == "phone" else k): v for k, v in errors.items()}
        raise Invalid(next(iter(fields.values())), fields=fields)
    found = duplicates.find(actor, candidate_of(values, phone), clock.today(now))
    others = [d for d in found if "credit_code" not in d.reasons]
    if others and not save_anyway and not duplicates.code_refused(found):
        raise Conflict(
            _("This factory may be in the CRM already: check the list, or save anyway."),
            fields=by_field(others),
        )
    factory = edits.create_factory(actor, values, now)
    if name:
        try:
            edits.add_contact(actor, factory, name=name, phone=phone, now=now)
        except Invalid as error:
            fields = {f"contact_{k}": v for k, v in error.fields.items()}
            raise Invalid(error.message, fields=fields) from error
    return Added(factory, others)


def by_field(found: list[duplicates.Duplicate]) -> dict[str, str]:
    """Each duplicate's line under the field that made it one (the phone's, the name's ...)."""
    where = {"credit_code": "credit_code", "phone": "contact_phone", "name": "name"}
    fields: dict[str, list[str]] = {}
    for duplicate in found:
        for reason in duplicate.reasons:
            fields.setdefault(where.get(reason, "lat"), []).append(
                duplicates.describe(duplicate, reason)
            )
    return {name: " ".join(lines) for name, lines in fields.items()}


def reason_words() -> dict[str, str]:
    return {
        "credit_code": _("same credit code"),
        "phone": _("same phone"),
        "name": _("similar name"),
        "nearby": _("within 100 m"),
    }


# --- claiming a prospect -----------------------------------------------------------------


def can_claim(actor: User, factory: Factory) -> bool:
    """Whether to offer the claim: an unowned prospect of a belt of the rep's own team."""
    return (
        actor.role == "rep"
        and scope.may(actor, "claim_prospect")
        and factory.status == PROSPECT
        and factory.owner_id is None
        and actor.team_id is not None
        and factory.belt.team_id == actor.team_id
    )


def claim(actor: User, factory: Factory, now: datetime) -> Factory:
    """The rep becomes the prospect's owner; a prospect that has a rep is never taken over.

    The owner is set by a conditional UPDATE (`owner_id IS NULL`), so of two reps who claim
    at once exactly one wins and the other is told, whatever their sessions had loaded.
    """
    scope.require(actor, "claim_prospect")
    if factory.status != PROSPECT:
        raise Conflict(_("Only a prospect can be claimed; this factory has a rep already."))
    if factory.owner_id is not None and factory.owner_id == actor.id:
        raise Conflict(_("This prospect is yours already."))
    if factory.owner_id is not None:
        raise Conflict(_("This prospect has a rep already, so it cannot be claimed."))
    if actor.role != "rep":
        raise NotAllowed(
            _("Only field staff own factories: assign the prospect to a rep of its team.")
        )
    if actor.team_id is None or factory.belt.team_id != actor.team_id:
        raise NotFound(_("This record does not exist, or is not yours to see."))
    claimed = db.session.execute(
        update(Factory)
        .where(
            Factory.id == factory.id,
            Factory.owner_id.is_(None),
            Factory.status == PROSPECT,
        )
        .values(owner_id=actor.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise Conflict(_("Another rep claimed this prospect a moment ago: it is theirs now."))
    db.session.refresh(factory)
    audit.record(actor, "factory", factory.id, "claim", {"owner_id": (None, actor.id)})
    return factory
