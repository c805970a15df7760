"""The factory import (create or update by credit code) and the factory export that re-imports.

Every rule comes from where the factory pages keep it (crm.services.factories.edits: lengths, the
shop link, a phone, a position; crm.services.factories.credit_code): a row is refused for what the
edit form would refuse. Existing factories are fetched by credit code a chunk at a time,
with whether each is in the importer's scope worked out in the same query; the writes are
bulk inserts and updates, with one audit entry per changed factory (its history).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import case, insert, select, update
from sqlalchemy.orm import joinedload

from crm import clock, scope
from crm.errors import too_long
from crm.extensions import db
from crm.models import Belt, Contact, Factory, ImportRun, User
from crm.models.factory import ADDRESS_MAX, CATEGORY_MAX, CONTACT_NAME_MAX, FACTORY_NAME_MAX
from crm.services.factories import credit_code, factory_fields, search_keys
from crm.services.imports.import_columns import FACTORY_FIELDS, FALSE_WORDS, NO, TRUE_WORDS, YES
from crm.services.imports.import_rows import (
    Plan,
    Progress,
    Staged,
    chunks,
    column_labels,
    counted,
    keyed_in,
    staged_rows,
)
from crm.services.install import audit
from crm.services.trust import duplicates
from crm.values import national_digits

FACTORY_COLUMNS = (
    "name",
    "belt_id",
    "category",
    "address",
    "shop_url",
    "lat",
    "lng",
    "is_key_account",
)
CONTACT_COLUMNS = ("contact_name", "contact_phone")


# --- checking ------------------------------------------------------------------------------


def plan(actor: User, run: ImportRun, now: datetime, progress: Progress | None = None) -> Plan:
    result = Plan()
    rows = staged_rows(run, result)
    if rows is None:
        return result
    rows = list(rows)
    mapped = {name for name in run.mapping if name}
    labels = column_labels(run)
    belts = _belts()
    own_belts = set(db.session.scalars(scope.belts(actor).with_only_columns(Belt.id)))
    codes = {credit_code.normalise(row.text("credit_code")) for row in rows}
    existing = _existing(actor, sorted(code for code in codes if code), now)
    contacts = (
        _first_contacts([f["id"] for f in existing.values()])
        if mapped & set(CONTACT_COLUMNS)
        else {}
    )
    seen: dict[str, int] = {}
    needs_name = _("Enter the factory's name.")
    new_rows: list[tuple[int, duplicates.Candidate]] = []
    for row in counted(rows, progress):
        errors: dict[str, str] = {}
        code = _code(row, seen, errors)
        values = _values(row, mapped, belts, own_belts, errors, needs_name)
        current = existing.get(code) if code else None
        if current is not None and not current["visible"]:
            errors.setdefault(
                "credit_code", _("A factory with this credit code exists outside your scope.")
            )
        for name, message in errors.items():
            result.refuse(row.line, labels.get(name, name), message)
        if errors or result.problems:
            continue
        if current is None:
            new_rows.append((row.line, _candidate(values)))
        _place(result, code, values, current, contacts.get(current["id"]) if current else None)
    if not result.problems:
        _warn_of_duplicates(actor, result, new_rows, labels, now)
    return result


def _candidate(values: dict) -> duplicates.Candidate:
    phone = values.get("contact_phone") or ""
    return duplicates.Candidate(
        name=values.get("name") or "",
        phones=(phone,) if phone else (),
        lat=values.get("lat"),
        lng=values.get("lng"),
        belt_id=values.get("belt_id"),
    )


def _warn_of_duplicates(
    actor: User,
    result: Plan,
    new_rows: list[tuple[int, duplicates.Candidate]],
    labels: dict[str, str],
    now: datetime,
) -> None:
    """A new factory that looks like one already kept is told by its line, not refused (the
    same credit code is an update; one outside the scope is refused above)."""
    found = duplicates.find_many(
        actor, [candidate for _line, candidate in new_rows], clock.today(now)
    )
    lines = [line for line, _candidate in new_rows]
    for line, likely in zip(lines, found, strict=True):
        for duplicate in likely:
            column = labels.get("name", "name")
            if duplicate.reasons[0] == "phone":
                column = labels.get("contact_phone", column)
            result.warn(line, column, duplicates.describe(duplicate))


def _code(row: Staged, seen: dict[str, int], errors: dict[str, str]) -> str:
    code = credit_code.normalise(row.text("credit_code"))
    if not code:
        errors["credit_code"] = _("Enter the credit code: the import finds factories by it.")
        return ""
    problem = credit_code.problem(code)
    if problem:
        errors["credit_code"] = problem
    elif code in seen:
        errors["credit_code"] = _("This credit code is on line %(line)d too.", line=seen[code])
    else:
        seen[code] = row.line
    return code


def _values(
    row: Staged,
    mapped: set[str],
    belts: dict[str, int],
    own: set[int],
    errors: dict[str, str],
    needs_name: str,
) -> dict[str, Any]:
    """The row's cleaned values for the mapped columns, with each refusal by its field."""
    cells = {name: row.text(name) for name in mapped}
    # The edit form's checks (crm.services.factories.factory_fields), its messages made once per
    # file.
    values = {
        "name": factory_fields.text(cells["name"], "name", FACTORY_NAME_MAX, errors, needs_name)
    }
    for name, limit in (("category", CATEGORY_MAX), ("address", ADDRESS_MAX)):
        if name in cells:
            values[name] = factory_fields.text(cells[name], name, limit, errors)
    if "shop_url" in cells:
        values["shop_url"] = factory_fields.web_address(cells["shop_url"], errors)
    belt_text = cells.get("belt", "")
    belt_id = belts.get(belt_text.lower())
    if not belt_text:
        errors["belt"] = _("Enter the belt's name or code.")
    elif belt_id is None:
        errors["belt"] = _("No belt is called %(belt)s: use a belt's name or code.", belt=belt_text)
    elif belt_id not in own:
        errors["belt"] = _("The belt %(belt)s is outside your scope.", belt=belt_text)
    values["belt_id"] = belt_id
    for name, bounds in (
        ("lat", factory_fields.LATITUDE_RANGE),
        ("lng", factory_fields.LONGITUDE_RANGE),
    ):
        if name in cells:
            values[name] = factory_fields.number(cells[name], name, bounds, errors)
    if ("lat" in cells) != ("lng" in cells):
        errors["lat"] = _("Import latitude and longitude together, or neither.")
    elif (
        "lat" in cells
        and not {"lat", "lng"} & set(errors)
        and (values["lat"] is None) != (values["lng"] is None)
    ):
        errors["lat"] = _("Enter both latitude and longitude, or leave both empty.")
    if "is_key_account" in cells:
        flag = cells["is_key_account"].lower()
        if flag not in TRUE_WORDS | FALSE_WORDS:
            errors["is_key_account"] = _("Enter yes or no (是 or 否).")
        values["is_key_account"] = flag in TRUE_WORDS
    if "contact_name" in cells or "contact_phone" in cells:
        name = cells.get("contact_name", "")
        phone, _digits = factory_fields.phone_number(cells.get("contact_phone", ""), errors)
        if "phone" in errors:
            errors["contact_phone"] = errors.pop("phone")
        if len(name) > CONTACT_NAME_MAX:
            label = factory_fields.LABELS["contact_name"]
            errors["contact_name"] = too_long(label, CONTACT_NAME_MAX)
        elif phone and not name and "contact_phone" not in errors:
            # Said by the name's column when the file has one, else by the phone's.
            where = "contact_name" if "contact_name" in mapped else "contact_phone"
            errors[where] = _("Enter the name of the person this phone reaches.")
        values["contact_name"], values["contact_phone"] = name, phone
    return values


def _place(
    result: Plan, code: str, values: dict, current: dict | None, contact: dict | None
) -> None:
    """File the row as a creation, an update with its changes, or unchanged."""
    contact_values = {name: values.pop(name) for name in CONTACT_COLUMNS if name in values}
    if current is None:
        result.creates.append({"credit_code": code, **values, "contact": contact_values})
        return
    changes = {
        name: (current[name], value) for name, value in values.items() if current[name] != value
    }
    contact_change = _contact_change(contact, contact_values)
    if changes or contact_change:
        result.updates.append(
            {"id": current["id"], "changes": changes, "contact": contact_change, "had": contact}
        )
    else:
        result.unchanged += 1


def _contact_change(contact: dict | None, values: dict) -> dict:
    """The first contact's name and phone as the file gives them; an empty pair removes nothing."""
    if not values or not (values.get("contact_name") or values.get("contact_phone")):
        return {}
    new = {"name": values.get("contact_name", ""), "phone": values.get("contact_phone", "")}
    if contact is None:
        return new
    return {name: value for name, value in new.items() if contact[name] != value}


def _belts() -> dict[str, int]:
    """Every belt by its code and both its names, lower case."""
    found: dict[str, int] = {}
    for belt in db.session.execute(select(Belt.id, Belt.code, Belt.name_zh, Belt.name_en)):
        for key in (belt.name_en, belt.name_zh, belt.code):
            found[key.strip().lower()] = belt.id
    return found


def _existing(actor: User, codes: list[str], now: datetime) -> dict[str, dict]:
    """The factories with these credit codes, with whether each is in the actor's scope."""
    visible = case((scope.factory_condition(actor, clock.today(now)), True), else_=False)
    columns = [getattr(Factory, name) for name in ("id", "credit_code", *FACTORY_COLUMNS)]
    wanted, found = set(codes), {}
    for condition in keyed_in(Factory.credit_code, codes):
        statement = select(*columns, visible.label("visible")).where(condition)
        for row in db.session.execute(statement).mappings():
            if row["credit_code"] in wanted:
                found[row["credit_code"]] = dict(row)
    return found


def _first_contacts(factory_ids: list[int]) -> dict[int, dict]:
    """Each factory's first contact (the one the import and the export read and write)."""
    wanted, found = set(factory_ids), {}
    for condition in keyed_in(Contact.factory_id, factory_ids):
        statement = (
            select(Contact.id, Contact.factory_id, Contact.name, Contact.phone)
            .where(condition)
            .order_by(Contact.factory_id, Contact.id)
        )
        for row in db.session.execute(statement).mappings():
            if row["factory_id"] in wanted:
                found.setdefault(row["factory_id"], dict(row))
    return found


# --- writing -------------------------------------------------------------------------------


def write(actor: User, result: Plan, now: datetime) -> None:
    """Apply a plan without problems: bulk inserts and updates, one audit entry per factory."""
    history: list[tuple[int, str, dict]] = []
    new_contacts: list[dict] = []
    for part in chunks(result.creates):
        # A plain executemany, then the ids by credit code: RETURNING in parameter order
        # makes SQLite insert one row per statement.
        db.session.execute(insert(Factory.__table__), [_new_factory(item, now) for item in part])
        ids = dict(
            db.session.execute(
                select(Factory.credit_code, Factory.id).where(
                    Factory.credit_code.in_([item["credit_code"] for item in part])
                )
            ).all()
        )
        made = [(ids[item["credit_code"]], item["credit_code"]) for item in part]
        for (factory_id, _code), item in zip(made, part, strict=True):
            values = {k: v for k, v in item.items() if k != "contact"}
            after = {k: v for k, v in values.items() if v not in (None, "", False)}
            before = dict.fromkeys((*after, "lat"), None)
            after.setdefault("lat", None)
            history.append((factory_id, "create", factory_fields.changes_for_audit(before, after)))
            contact = item["contact"]
            if contact.get("contact_name"):
                name, phone = contact["contact_name"], contact.get("contact_phone", "")
                new_contacts.append(_new_contact(factory_id, name, phone, now))
    changed_contacts: list[dict] = []
    factory_updates = []
    for item in result.updates:
        if item["changes"]:
            values = {name: after for name, (_before, after) in item["changes"].items()}
            factory_updates.append({"id": item["id"], **values, "updated_at": now})
        changes = (
            factory_fields.changes_for_audit(
                {name: before for name, (before, _after) in item["changes"].items()},
                {name: after for name, (_before, after) in item["changes"].items()},
            )
            if item["changes"]
            else {}
        )
        contact = item["contact"]
        if contact:
            had = item["had"]
            if had is None:
                new_contacts.append(
                    _new_contact(item["id"], contact["name"], contact["phone"], now)
                )
            else:
                changed_contacts.append({"id": had["id"], **contact, **_digits(contact, had)})
            for name, value in contact.items():
                changes[f"contact_{name}"] = (had[name] if had else None, value)
        history.append((item["id"], "update", changes))
    for part in chunks(factory_updates):
        db.session.execute(update(Factory), part)
    search_keys.refresh_factories(
        [row["id"] for row in factory_updates if "name" in row or "address" in row]
    )
    for part in chunks(changed_contacts):
        db.session.execute(update(Contact), part)
    for part in chunks(new_contacts):
        db.session.execute(insert(Contact.__table__), part)
    audit.record_many(actor, "factory", history, now, personal=("contact_name", "contact_phone"))


def _new_factory(item: dict, now: datetime) -> dict:
    row = {name: value for name, value in item.items() if name != "contact"}
    row.setdefault("category", "")
    row.setdefault("address", "")
    row.setdefault("shop_url", "")
    row.setdefault("is_key_account", False)
    row.update(status="prospect", stage=None, paused_days=0, created_at=now, updated_at=now)
    row["search_key"] = search_keys.factory_key(row.get("name", ""), row["address"])
    return row


def _new_contact(factory_id: int, name: str, phone: str, now: datetime) -> dict:
    return {
        "factory_id": factory_id,
        "name": name,
        "role": "",
        "phone": phone,
        "phone_digits": national_digits(phone),
        "search_key": search_keys.contact_key(name, phone),
        "wechat_id": "",
        "created_at": now,
    }


def _digits(contact: dict, had: dict) -> dict:
    """The changed contact's phone digits and search key, from its name and phone after."""
    after = {**had, **contact}
    kept = {"search_key": search_keys.contact_key(after["name"], after["phone"])}
    if "phone" in contact:
        kept["phone_digits"] = national_digits(contact["phone"])
    return kept


# --- the export that re-imports ------------------------------------------------------------


def export_header(language: str) -> list[str]:
    return [field.label(language) for field in FACTORY_FIELDS]


def export_rows(actor: User, language: str, now: datetime) -> Iterator[list]:
    """The factories in the actor's scope in the import's columns, a chunk at a time."""
    # A factory without a credit code is left out: the import could not find it again.
    ids = list(
        db.session.scalars(
            scope.factory_ids(actor, clock.today(now))
            .where(Factory.credit_code.is_not(None))
            .order_by(Factory.id)
        )
    )
    yes, no = YES["zh" if language == "zh" else "en"], NO["zh" if language == "zh" else "en"]
    for part in chunks(ids, 1_000):
        contacts = _first_contacts(part)
        records = db.session.scalars(
            select(Factory)
            .where(Factory.id.in_(part))
            .options(joinedload(Factory.belt))
            .order_by(Factory.id)
        )
        for factory in records:
            contact = contacts.get(factory.id) or {"name": "", "phone": ""}
            yield [
                factory.credit_code or "",
                factory.name,
                factory.belt.name_for(language),
                factory.category,
                factory.address,
                factory.shop_url,
                factory.lat,
                factory.lng,
                yes if factory.is_key_account else no,
                contact["name"],
                contact["phone"],
            ]
