"""Staff's changes to one factory: adding a contact, editing its details, creating one.
(Claiming a prospect is crm.services.factories.prospects'.)

Each function takes the acting user, flushes and never commits (the request or the job
commits), answers a broken rule with crm.errors (Invalid with the field it concerns,
Conflict, NotAllowed) and writes the audit log with the changed fields only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm import clock, scope
from crm.errors import NotAllowed
from crm.extensions import db
from crm.models import PROSPECT, Belt, Contact, Factory, User
from crm.models.factory import (
    ADDRESS_MAX,
    CATEGORY_MAX,
    CONTACT_NAME_MAX,
    CONTACT_ROLE_MAX,
    CREDIT_CODE_OVERRIDE_MAX,
    FACTORY_NAME_MAX,
    WECHAT_MAX,
)
from crm.services.factories import credit_code, factory_fields
from crm.services.factories.factory_fields import LATITUDE_RANGE, LONGITUDE_RANGE
from crm.services.install import audit
from crm.services.trust import duplicates
from crm.values import id_or_none

CONTACT_PERSONAL = ("name", "phone", "phone_digits", "wechat_id")

# What any member of staff in scope may edit, and what only managers and admins change.
DETAILS = ("name", "category", "address", "shop_url", "lat", "lng", "opens_at", "closes_at")
MANAGED = ("belt_id", "credit_code", "is_key_account")
# An admin's alone: the reason for recording a code that fails its check characters.
OVERRIDE = "credit_code_override_reason"
EDITABLE = DETAILS + MANAGED + (OVERRIDE,)


# --- contacts ----------------------------------------------------------------------------


def add_contact(
    actor: User,
    factory: Factory,
    *,
    name: str,
    role: str = "",
    phone: str = "",
    wechat_id: str = "",
    now: datetime,
) -> Contact:
    """A person at the factory: a name, and how to reach them (phone kept as typed and digits)."""
    scope.require(actor, "add_contact")
    errors: dict[str, str] = {}
    clean_name = factory_fields.text(
        name,
        "name",
        CONTACT_NAME_MAX,
        errors,
        _("Enter the contact's name."),
        label=factory_fields.LABELS["contact_name"],
    )
    clean_role = factory_fields.text(role, "role", CONTACT_ROLE_MAX, errors)
    clean_phone, digits = factory_fields.phone_number(phone, errors)
    clean_wechat = factory_fields.text(wechat_id, "wechat_id", WECHAT_MAX, errors)
    if clean_wechat and re.search(r"\s", clean_wechat):
        errors["wechat_id"] = _("A WeChat ID has no spaces.")
    factory_fields.refuse(errors)
    contact = Contact(
        factory=factory,
        name=clean_name,
        role=clean_role,
        phone=clean_phone,
        phone_digits=digits,
        wechat_id=clean_wechat,
        created_at=now,
    )
    db.session.add(contact)
    db.session.flush()
    after = {
        "name": clean_name,
        "role": clean_role,
        "phone": clean_phone,
        "wechat_id": clean_wechat,
    }
    audit.record(
        actor,
        "contact",
        contact.id,
        "create",
        {field: (None, value) for field, value in after.items() if value},
        personal=CONTACT_PERSONAL,
    )
    return contact


# --- editing a factory -------------------------------------------------------------------


def may_manage(actor: User) -> bool:
    """Belt, credit code and the key-account flag: a manager's or an admin's to change."""
    return scope.may(actor, "change_belt_or_credit_code")


def update_factory(
    actor: User, factory: Factory, values: Mapping[str, Any], now: datetime
) -> Factory:
    """Change the given fields (those left out stay); audited with before and after.

    A rep who sends a belt, credit code or key-account flag that differs from the stored
    one is refused (NotAllowed) rather than half-served: those are a manager's to change.
    """
    if not scope.holds(actor, "staff"):
        raise NotAllowed(_("Your role may not do this."))
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    before = _tracked(factory)
    if not may_manage(actor) and any(
        _differs(name, values[name], before[name]) for name in MANAGED if name in values
    ):
        raise NotAllowed(_("Only a manager or admin changes a factory's belt or credit code."))
    _require_override_right(actor, values, before[OVERRIDE])
    errors: dict[str, str] = {}
    clean = _details(values, errors)
    clean.update(_coordinates(values, factory, errors))
    clean.update(_hours(values, factory, errors))
    if may_manage(actor):
        clean.update(_managed(actor, factory, values, now, errors))
    factory_fields.refuse(errors)
    for name, value in clean.items():
        setattr(factory, name, value)
    changes = factory_fields.changes_for_audit(before, _tracked(factory))
    if changes:
        factory.updated_at = now
        db.session.flush()
        if "belt_id" in changes:
            db.session.expire(factory, ["belt"])  # the loaded belt is the old one
        audit.record(actor, "factory", factory.id, "update", changes)
    return factory


def _differs(name: str, value: Any, current: Any) -> bool:
    """Whether a sent managed value would change the stored one (as a form or the API sends it)."""
    if name == "credit_code":
        return (credit_code.normalise(str(value or "")) or None) != current
    if name == "is_key_account":
        return bool(value) != bool(current)
    if name == OVERRIDE:
        return (str(value or "").strip() or None) != current
    return str(value) != str(current)


def _tracked(factory: Factory) -> dict[str, Any]:
    return {name: getattr(factory, name) for name in EDITABLE}


def _details(values: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    if "name" in values:
        message = _("Enter the factory's name.")
        clean["name"] = factory_fields.text(
            values["name"], "name", FACTORY_NAME_MAX, errors, message
        )
    if "category" in values:
        clean["category"] = factory_fields.text(
            values["category"], "category", CATEGORY_MAX, errors
        )
    if "address" in values:
        clean["address"] = factory_fields.text(values["address"], "address", ADDRESS_MAX, errors)
    if "shop_url" in values:
        clean["shop_url"] = factory_fields.web_address(values["shop_url"], errors)
    return clean


def _coordinates(
    values: Mapping[str, Any], factory: Factory, errors: dict[str, str]
) -> dict[str, float | None]:
    """Latitude and longitude: numbers in range, both or neither."""
    if "lat" not in values and "lng" not in values:
        return {}
    lat = factory_fields.number(values.get("lat", factory.lat), "lat", LATITUDE_RANGE, errors)
    lng = factory_fields.number(values.get("lng", factory.lng), "lng", LONGITUDE_RANGE, errors)
    if "lat" in errors or "lng" in errors:
        return {}
    if (lat is None) != (lng is None):
        missing = "lat" if lat is None else "lng"
        errors[missing] = _("Enter both latitude and longitude, or leave both empty.")
        return {}
    return {"lat": lat, "lng": lng}


def _hours(
    values: Mapping[str, Any], factory: Factory, errors: dict[str, str]
) -> dict[str, time | None]:
    """Opening hours: times of day (or none), the opening before the closing when both are set."""
    clean: dict[str, time | None] = {}
    for name in ("opens_at", "closes_at"):
        if name in values:
            value = values[name]
            if value is not None and not isinstance(value, time):
                errors[name] = _("Enter a time of day, such as 08:30.")
            else:
                clean[name] = value
    opens = clean.get("opens_at", factory.opens_at)
    closes = clean.get("closes_at", factory.closes_at)
    if opens and closes and opens >= closes and "closes_at" not in errors:
        errors["closes_at"] = _("The closing time must come after the opening time.")
    return clean


def _managed(
    actor: User,
    factory: Factory,
    values: Mapping[str, Any],
    now: datetime,
    errors: dict[str, str],
) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    if "belt_id" in values and values["belt_id"] != factory.belt_id:
        belt_id = _belt_id(actor, values["belt_id"])
        if belt_id is None:
            errors["belt_id"] = _("Choose one of your belts.")
        else:
            clean["belt_id"] = belt_id
    clean.update(_credit_code(actor, factory, values, now, errors))
    if "is_key_account" in values:
        clean["is_key_account"] = bool(values["is_key_account"])
    return clean


def _belt_id(actor: User, raw: Any) -> int | None:
    """The belt, if it exists and the actor may put factories in it (a manager: their own)."""
    belt_id = id_or_none(raw)
    if belt_id is None:
        return None
    if not may_manage(actor):
        return None
    return db.session.scalar(
        scope.belts(actor).with_only_columns(Belt.id).where(Belt.id == belt_id)
    )


def _require_override_right(actor: User, values: Mapping[str, Any], current: str | None) -> None:
    """A reason to record a failing code, sent by anyone but an admin, is refused outright."""
    if (
        OVERRIDE in values
        and not scope.may(actor, "override_credit_code_check")
        and _differs(OVERRIDE, values[OVERRIDE], current)
    ):
        raise NotAllowed(_("Only an admin records a credit code that fails its check characters."))


def _credit_code(
    actor: User,
    factory: Factory,
    values: Mapping[str, Any],
    now: datetime,
    errors: dict[str, str],
) -> dict[str, Any]:
    """The credit code and its override as they will be stored, or {} (errors say why).

    A code of the right shape that fails only its check characters is kept when an admin
    gives the reason (GB 32100's codes issued before the standard, as in Xiamen's pilot);
    the override goes with the code, so changing the code ends it.
    """
    if "credit_code" in values:
        code = credit_code.normalise(str(values["credit_code"] or ""))
    elif OVERRIDE in values and factory.credit_code:
        code = factory.credit_code  # an admin's reason alone, for the stored code
    else:
        if str(values.get(OVERRIDE) or "").strip():
            errors[OVERRIDE] = _("Enter the credit code that the reason is about.")
        return {}
    if not code:
        if factory.status != PROSPECT:
            errors["credit_code"] = _(
                "A factory in a stage keeps its credit code: correct it instead."
            )
            return {}
        return {"credit_code": None, **_override(None, None, now)}
    problem = credit_code.shape_problem(code)
    if problem:
        errors["credit_code"] = problem
        return {}
    failed_check = credit_code.check_problem(code)
    if failed_check and _kept(factory, code, values):
        return {"credit_code": code}
    reason = _override_reason(actor, values, failed_check, errors) if failed_check else None
    if "credit_code" in errors or not _code_is_free(actor, factory, code, now, errors):
        return {}
    return {"credit_code": code, **_override(reason, actor, now)}


def _kept(factory: Factory, code: str, values: Mapping[str, Any]) -> bool:
    """The stored code as an admin recorded it, sent back unchanged: kept, whoever saves."""
    stored = factory.credit_code_override_reason
    return (
        bool(stored)
        and code == factory.credit_code
        and not _differs(OVERRIDE, values.get(OVERRIDE, stored), stored)
    )


def _override_reason(
    actor: User, values: Mapping[str, Any], failed_check: str, errors: dict[str, str]
) -> str | None:
    """An admin's reason for recording a code that fails its check characters, or errors."""
    if scope.may(actor, "override_credit_code_check"):
        reason = factory_fields.text(
            values.get(OVERRIDE), OVERRIDE, CREDIT_CODE_OVERRIDE_MAX, errors
        )
        if reason and OVERRIDE not in errors:
            return reason
        errors.setdefault(
            OVERRIDE,
            _(
                "To record a code that fails its check anyway (one issued before the national "
                "standard), say why, such as where the code is printed."
            ),
        )
    errors["credit_code"] = failed_check
    return None


def _override(reason: str | None, actor: User | None, now: datetime) -> dict[str, Any]:
    return {
        OVERRIDE: reason,
        "credit_code_override_by_id": actor.id if reason and actor else None,
        "credit_code_override_at": now if reason else None,
    }


def _code_is_free(
    actor: User, factory: Factory, code: str, now: datetime, errors: dict[str, str]
) -> bool:
    taken = db.session.scalar(
        select(Factory.id).where(Factory.credit_code == code, Factory.id != factory.id)
    )
    if taken is None:
        return True
    visible = db.session.scalar(
        scope.factory_ids(actor, clock.today(now)).where(Factory.id == taken)
    )
    # Out of scope, a taken code says only that it exists (DESIGN.md "Scope").
    if visible is None:
        errors["credit_code"] = _("A factory with this credit code exists outside your scope.")
    else:
        other = db.session.get(Factory, taken)
        errors["credit_code"] = _(
            "%(name)s has this credit code already.", name=other.name if other else ""
        )
    return False


# --- creating a factory ------------------------------------------------------------------


def create_factory(actor: User, values: Mapping[str, Any], now: datetime) -> Factory:
    """A new prospect in one of the actor's belts; a rep who makes it owns it.

    The details follow the edit rules above (names, lengths, web address, both coordinates,
    a credit code checked and unique, said "outside your scope" when another holds it).
    """
    scope.require(actor, "create_factory")
    unknown = set(values) - set(EDITABLE) - {"belt_id"}
    if unknown:
        raise ValueError(f"not settable: {sorted(unknown)}")
    errors: dict[str, str] = {}
    factory = Factory(status=PROSPECT, stage=None, paused_days=0, is_key_account=False)
    if "name" not in values:
        errors["name"] = _("Enter the factory's name.")
    clean = _details(values, errors)
    clean.update(_coordinates(values, factory, errors))
    belt_id = _creatable_belt_id(actor, values.get("belt_id"))
    if belt_id is None:
        errors["belt_id"] = _("Choose one of your belts.")
    _require_override_right(actor, values, None)
    clean.update(_credit_code(actor, factory, values, now, errors))
    if "is_key_account" in values:
        if values["is_key_account"] and not may_manage(actor):
            raise NotAllowed(_("Only a manager or admin marks a key account."))
        clean["is_key_account"] = bool(values["is_key_account"])
    factory_fields.refuse(errors)
    for name, value in clean.items():
        setattr(factory, name, value)
    factory.belt_id = belt_id
    factory.owner_id = actor.id if actor.role == "rep" else None
    factory.created_at = factory.updated_at = now
    db.session.add(factory)
    db.session.flush()
    after = _tracked(factory)
    changes = factory_fields.changes_for_audit(dict.fromkeys(after), after)
    changes["owner_id"] = (None, factory.owner_id)
    audit.record(actor, "factory", factory.id, "create", changes)
    return factory


def duplicates_of(actor: User, factory: Factory, now: datetime) -> list[duplicates.Duplicate]:
    """The likely duplicates of a stored factory (crm.services.trust.duplicates), for the
    warning after an edit or a creation by the API: the factory itself left out."""
    candidate = duplicates.Candidate(
        name=factory.name,
        phones=tuple(contact.phone for contact in factory.contacts if contact.phone),
        lat=factory.lat,
        lng=factory.lng,
        belt_id=factory.belt_id,
        exclude_id=factory.id,
    )
    return duplicates.find(actor, candidate, clock.today(now))


def _creatable_belt_id(actor: User, raw: Any) -> int | None:
    """A belt of the actor's own (a rep: the team's; a manager: those led; an admin: any)."""
    if isinstance(raw, bool) or not isinstance(raw, int):
        return None
    return db.session.scalar(scope.belts(actor).with_only_columns(Belt.id).where(Belt.id == raw))
