"""The API's shapes: one declaration per body and query field checks the request and writes
the OpenAPI document (crm.views.api.spec), so that the two cannot drift apart.

Shape only (types, required, lengths, choices), with limits from the model's constants;
the rules stay in the services, whose Invalid errors name the same fields.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.datastructures import MultiDict

from crm.errors import Invalid, above, below, item_field, too_long, too_short
from crm.values import ID_MAX, id_or_none, read_date, read_instant, read_text, read_whole

__all__ = ["ID_MAX", "Body", "Field", "parse_body", "parse_query"]

# What read_text stores: no control character but tab, line feed and carriage return.
STORABLE_TEXT = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"


def words_or_id(words: tuple[str, ...]) -> str:
    """A pattern for a field that takes these words or a record's id (up to nine digits)."""
    return "^(?:" + "|".join(words) + "|[1-9][0-9]{0,8})$"


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
    # Choices read when asked (a catalogue an admin keeps), instead of fixed ones.
    choices_of: Callable[[], tuple[str, ...]] | None = None
    minimum: float | None = None
    maximum: float | None = None
    # Words the field accepts besides a record's id ("mine", "unowned"); None: not an id field.
    words: tuple[str, ...] | None = None
    # A query parameter sent empty ("?q=") is refused unless this says it means "absent".
    empty_means_absent: bool = False
    # A regular expression a text value must contain a match of (JSON Schema's `pattern`,
    # anchored with ^...$ where the whole value is meant), and the words saying so.
    pattern: str | None = None
    pattern_message: str = ""
    # A value the document shows (the request body's example is made of its fields').
    example: Any = None

    def __post_init__(self) -> None:
        if self.words is not None and self.pattern is None:
            object.__setattr__(self, "pattern", words_or_id(self.words))

    def all_choices(self) -> tuple[str, ...] | None:
        return self.choices_of() if self.choices_of is not None else self.choices

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
        if self.kind == "string":
            # Text holds no control character but tab and line breaks (crm.values.read_text).
            if self.pattern is None:
                schema["pattern"] = STORABLE_TEXT
            else:
                schema["pattern"] = self.pattern
                schema["allOf"] = [{"pattern": STORABLE_TEXT}]
        elif self.pattern is not None:
            schema["pattern"] = self.pattern  # a figure sent as text
        choices = self.all_choices()
        if choices is not None:
            schema["enum"] = [*choices, *([None] if self.nullable else [])]
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.description:
            schema["description"] = self.description
        if self.example is not None:
            schema["examples"] = [self.example]
        return schema


@dataclass(frozen=True)
class When:
    """A field that another field's value makes required: `needs` must be sent, and must hold
    more than white space, when `field` is sent (with one of `values`, if given)."""

    field: str
    needs: str
    values: tuple[Any, ...] | None = None
    message: str = ""

    def applies(self, values: dict[str, Any]) -> bool:
        if self.field not in values or values[self.field] is None:
            return False
        return self.values is None or values[self.field] in self.values

    def schema(self) -> dict[str, Any]:
        """JSON Schema's `if`/`then` (`dependentRequired` says less: not the value's content)."""
        condition: dict[str, Any] = {"required": [self.field]}
        if self.values is not None:
            condition["properties"] = {self.field: {"enum": list(self.values)}}
        else:
            condition["properties"] = {self.field: {"not": {"type": "null"}}}
        return {
            "if": condition,
            "then": {
                "required": [self.needs],
                "properties": {self.needs: {"not": {"type": "null"}, "pattern": NOT_BLANK}},
            },
        }


# Text that holds more than white space (what a service's strip() leaves something of).
NOT_BLANK = r"\S"


@dataclass(frozen=True)
class Body:
    """A JSON object of named fields; a field it does not name is refused."""

    name: str
    fields: dict[str, Field] = field(default_factory=dict)
    min_fields: int = 0
    # Fields that other fields' values make required (refused by the one that is missing).
    when: tuple[When, ...] = ()
    # Some field must be sent, and hold something, besides these (an evidence of nothing).
    any_of: tuple[str, ...] = ()

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
        if self.any_of:
            schema["anyOf"] = [
                {"required": [name], "properties": {name: _something(self.fields[name])}}
                for name in self.any_of
            ]
        if self.when:
            schema["allOf"] = [rule.schema() for rule in self.when]
        example = self.example()
        if example:
            schema["examples"] = [example]
        return schema

    def example(self) -> dict[str, Any]:
        """The fields' examples; a list of objects shows one item, made of its fields'."""
        examples = {}
        for name, spec in self.fields.items():
            if spec.example is not None:
                examples[name] = spec.example
            elif spec.item is not None:
                examples[name] = [spec.item.example()]
        return examples


def _something(spec: Field) -> dict[str, Any]:
    """A sent value that counts as evidence: not null, and text with more than white space."""
    if spec.kind in ("string", "decimal"):
        return {
            "type": "string" if spec.kind == "string" else ["string", "number"],
            "pattern": NOT_BLANK,
        }
    return {"not": {"type": "null"}}


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
    if not errors:
        for rule in body.when:
            if rule.applies(values) and not _holds_something(values.get(rule.needs)):
                errors[rule.needs] = rule.message or _("This field is required.")
        if body.any_of and not any(_holds_something(values.get(name)) for name in body.any_of):
            message = _("Send at least one of: %(fields)s.", fields=", ".join(body.any_of))
            errors[body.any_of[0]] = message
    if errors:
        raise Invalid(_("Correct the fields named."), fields=errors)
    return values


def _holds_something(value: Any) -> bool:
    if value is None:
        return False
    return not isinstance(value, str) or re.search(NOT_BLANK, value) is not None


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
        # As in a body, a whole number written with a zero fraction ("1.0") is JSON Schema's
        # integer 1; any other form but ASCII digits is refused (read_whole).
        whole, point, fraction = raw.partition(".")
        if point and fraction and fraction.strip("0") == "":
            raw = whole
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
        if isinstance(raw, str) and spec.pattern and re.search(spec.pattern, value) is None:
            raise ValueError(spec.pattern_message or _("This value has the wrong form."))
    if spec.words is not None and value not in spec.words and id_or_none(value) is None:
        raise ValueError(
            _("Send %(words)s or a record's id.", words=", ".join(f'"{w}"' for w in spec.words))
        )
    choices = spec.all_choices()
    if choices is not None and value not in choices:
        raise ValueError(_("Choose one of: %(choices)s.", choices=", ".join(choices)))
    # A decimal's bounds hold for a JSON number (its text is checked by its pattern).
    bound = raw if spec.kind == "decimal" else value
    if isinstance(bound, int | float) and not isinstance(bound, bool):
        value_ = bound
        if spec.minimum is not None and value_ < spec.minimum:
            raise ValueError(below(name, f"{spec.minimum:g}"))
        if spec.maximum is not None and value_ > spec.maximum:
            raise ValueError(above(name, f"{spec.maximum:g}"))
    return value


def _string(raw: Any) -> str:
    return read_text(raw)


def _integer(raw: Any) -> int:
    # JSON Schema's integer is a number without a fraction: 1.0 is the integer 1.
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
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
    if isinstance(raw, list):
        raw = [int(item) if isinstance(item, float) and item.is_integer() else item for item in raw]
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
