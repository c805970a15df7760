"""An example of any schema of the document, made from the schema itself (its `examples`,
enums, formats and types), so that every answer's example stays valid as schemas change."""

from __future__ import annotations

from typing import Any

_BY_FORMAT = {"date": "2026-01-15", "date-time": "2026-01-15T09:30:00+08:00"}
_BY_TYPE = {"string": "text", "integer": 1, "number": 1.5, "boolean": True, "null": None}


def instance(schema: dict[str, Any], schemas: dict[str, dict]) -> Any:
    """A value that `schema` accepts; `$ref`s are read from `schemas` (components)."""
    if "$ref" in schema:
        return instance(schemas[schema["$ref"].rsplit("/", 1)[1]], schemas)
    if "examples" in schema:
        return schema["examples"][0]
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(instance(part, schemas))
        return merged
    if "oneOf" in schema:
        # The first choice that is not null: the richer example.
        parts = [part for part in schema["oneOf"] if part.get("type") != "null"]
        return instance(parts[0] if parts else schema["oneOf"][0], schemas)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next(item for item in kind if item != "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: instance(part, schemas) for name, part in properties.items()}
    if kind == "array":
        return [instance(schema.get("items", {}), schemas)]
    if kind == "string" and schema.get("format") in _BY_FORMAT:
        return _BY_FORMAT[schema["format"]]
    return _BY_TYPE[kind]
