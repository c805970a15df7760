"""The API's shapes: one declaration per body and query field checks the request and writes
the OpenAPI document (crm.views.api.spec), so that the two cannot drift apart.

Shape only (types, required, lengths, choices), with limits from the model's constants;
the rules stay in the services, whose Invalid errors name the same fields.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.datastructures import MultiDict

from crm.errors import Invalid, above, below, item_field, too_long, too_short
from crm.values import ID_MAX, id_or_none, read_date, read_instant, read_text, read_whole

__all__ = ["ID_MAX", "Body", "Field", "parse_body", "parse_query"]

JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "date": "string",
    "date-time": "string",
    "decimal": ["number", "string"],
    "integers": "array",
    "objects": "array",
}


@dataclass(frozen=True)
class Field:
    """One field of a body or a query: its JSON type and the shape it must have."""

    kind: str
    description: str = ""
    required: bool = False
    nullable: bool = False
    max_length: int | None = None
    min_length: int | None = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    # Words the field accepts besides a record's id ("mine", "unowned"); None: not an id field.
    words: tuple[str, ...] | None = None
    # A query parameter sent empty ("?q=") is refused unless this says it means "absent".
    empty_means_absent: bool = False
    # A list of objects ("objects"): each item's declaration, and how many items it takes.
    item: Body | None = None
    min_items: int = 0
    max_items: int | None = None

    def schema(self) -> dict[str, Any]:
        kind = JSON_TYPES[self.kind]
        types = kind if isinstance(kind, list) else [kind]
        if self.nullable:
            types = [*types, "null"]
        schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
        if self.kind in ("date", "date-time"):
            schema["format"] = self.kind
        if self.kind == "integers":
            schema["items"] = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
        if self.item is not None:
            schema["items"] = {"$ref": f"#/components/schemas/{self.item.name}"}
            schema["minItems"] = self.min_items
            if self.max_items is not None:
                schema["maxItems"] = self.max_items
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.min_length is not None:
            schema["minLength"] = self.min_length
        if self.choices is not None:
            schema["enum"] = [*self.choices, *([None] if self.nullable else [])]
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Body:
    """A JSON object of named fields; a field it does not name is refused."""

    name: str
    fields: dict[str, Field] = field(default_factory=dict)
    min_fields: int = 0

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: spec.schema() for name, spec in self.fields.items()},
            "additionalProperties": False,
        }
        required = [name for name, spec in self.fields.items() if spec.required]
        if required:
            schema["required"] = required
        if self.min_fields:
            schema["minProperties"] = self.min_fields
        return schema


def parse_body(body: Body, data: Any) -> dict[str, Any]:
    """The body's values by field name (only those sent), or Invalid naming every bad field."""
    if not isinstance(data, Mapping):
        raise Invalid(_("Send a JSON object."), fields={"body": _("Send a JSON object.")})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name in data:
        if name not in body.fields:
            errors[str(name)] = _("This field is not known here.")
    for name, spec in body.fields.items():
        if name not in data:
            if spec.required:
                errors[name] = _("This field is required.")
            continue
        try:
            values[name] = _value(name, spec, data[name])
        except ValueError as error:
            errors[name] = str(error)
        except Invalid as error:  # a list's items, each field named by its item's place
            errors.update(error.fields)
    if not errors and len(values) < body.min_fields:
        errors["body"] = _("Send at least one field to change.")
    if errors:
        raise Invalid(_("Correct the fields named."), fields=errors)
    return values


def parse_query(fields: dict[str, Field], args: MultiDict[str, str]) -> dict[str, Any]:
    """Query parameters by name (absent ones left out), or Invalid naming the bad ones.

    Read as the document states them: each parameter once, an empty value refused unless its
    declaration says it means absent, whole numbers in ASCII digits (crm.values.read_whole).
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        sent = args.getlist(name)
        if not sent:
            continue
        if len(sent) > 1:
            errors[name] = _("Send this parameter once.")
            continue
        raw = sent[0]
        if raw == "":
            if not spec.empty_means_absent:
                errors[name] = _("Leave this parameter out, or give it a value.")
            continue
        try:
            values[name] = _value(name, spec, _from_text(spec, raw))
        except ValueError as error:
            errors[name] = str(error)
    if errors:
        raise Invalid(_("Correct the parameters named."), fields=errors)
    return values


def _from_text(spec: Field, raw: str) -> Any:
    if spec.kind == "integer":
        low = int(spec.minimum) if spec.minimum is not None else -(2**63)
        high = int(spec.maximum) if spec.maximum is not None else 2**63 - 1
        return read_whole(raw, low, high)
    if spec.kind == "boolean":
        if raw not in ("true", "false"):
            raise ValueError(_("Enter true or false."))
        return raw == "true"
    return raw


def _value(name: str, spec: Field, raw: Any) -> Any:
    if raw is None:
        if spec.nullable:
            return None
        raise ValueError(_("This field may not be null."))
    if spec.item is not None:
        return _objects(name, spec, raw)
    checker = _CHECKERS[spec.kind]
    value = checker(raw)
    if isinstance(value, str):
        if spec.min_length is not None and len(value) < spec.min_length:
            raise ValueError(too_short(name, spec.min_length))
        if spec.max_length is not None and len(value) > spec.max_length:
            raise ValueError(too_long(name, spec.max_length))
    if spec.words is not None and value not in spec.words and id_or_none(value) is None:
        raise ValueError(
            _("Send %(words)s or a record's id.", words=", ".join(f'"{w}"' for w in spec.words))
        )
    if spec.choices is not None and value not in spec.choices:
        raise ValueError(_("Choose one of: %(choices)s.", choices=", ".join(spec.choices)))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise ValueError(below(name, f"{spec.minimum:g}"))
        if spec.maximum is not None and value > spec.maximum:
            raise ValueError(above(name, f"{spec.maximum:g}"))
    return value


def _string(raw: Any) -> str:
    return read_text(raw)


def _integer(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError(_("Send a whole number."))
    return raw


def _number(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(_("Send a number."))
    if not math.isfinite(float(raw)):
        raise ValueError(_("Send a finite number."))
    return float(raw)


def _boolean(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise ValueError(_("Send true or false."))
    return raw


def _date(raw: Any) -> date:
    return read_date(_string(raw))


def _instant(raw: Any) -> datetime:
    return read_instant(_string(raw))


def _decimal(raw: Any) -> Any:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(_("Send a number, such as 72.5."))
    if isinstance(raw, float) and not math.isfinite(raw):
        raise ValueError(_("Send a finite number."))
    return raw if isinstance(raw, str) else str(raw)


def _integers(raw: Any) -> list[int]:
    if not isinstance(raw, list) or any(
        isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= ID_MAX
        for item in raw
    ):
        raise ValueError(_("Send a list of record ids."))
    return raw


def _objects(name: str, spec: Field, raw: Any) -> list[dict[str, Any]]:
    """A list of objects, each read by the item's declaration: ValueError for the list as a
    whole (not a list, too few or too many items), Invalid naming each bad item's fields."""
    if not isinstance(raw, list):
        raise ValueError(_("Send a list."))
    if len(raw) < spec.min_items:
        raise ValueError(
            ngettext("Send at least %(num)d item.", "Send at least %(num)d items.", spec.min_items)
        )
    if spec.max_items is not None and len(raw) > spec.max_items:
        raise ValueError(_("Send at most %(count)s items at once.", count=f"{spec.max_items:,}"))
    values, errors = [], {}
    for index, item in enumerate(raw):
        try:
            values.append(parse_body(spec.item, item))
        except Invalid as error:
            for field_name, text in error.fields.items():
                where = None if field_name == "body" else field_name
                errors[item_field(name, index, where)] = text
    if errors:
        raise Invalid(_("Correct the fields named."), fields=errors)
    return values


_CHECKERS = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "date": _date,
    "date-time": _instant,
    "decimal": _decimal,
    "integers": _integers,
}
