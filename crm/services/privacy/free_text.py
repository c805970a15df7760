"""Where a person's name, phone or e-mail can land as free text, and how it is found and replaced
there by a marker: one statement per column, in SQL, whatever the number of rows.

Every text column of the schema is named here once: as free text (searched and replaced), as a
person's own fields (the erasure writes them itself), or as kept (codes, states, hashes: no
person's words). tests/unit/test_erasure.py holds the schema to this list, so that a new column
is placed before it ships.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, Table, Text, cast, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from crm.extensions import db

# What stands in the text where the person was named (the audit log's own marker).
MARKER = "[erased]"
# Shorter needles are not looked for: one character would blank half the notes of the install.
NEEDLE_MIN = 2

# Text columns where anyone may have written a person's name or number.
FREE_TEXT: dict[str, tuple[str, ...]] = {
    "visits": ("notes", "summary"),
    "visit_corrections": ("notes", "summary"),
    "visit_reviews": ("note", "answer", "closing_note"),
    "follow_ups": ("reason",),
    # An ad hoc task's title is typed by staff ("Call Mr Wang back"); a template's is copied.
    "tasks": ("title_en", "title_zh", "evidence_note", "waive_reason", "send_back_reason"),
    "stage_changes": ("reason", "decision_note"),
    "factory_closures": ("reason",),
    "factories": ("credit_code_override_reason",),
    "notifications": ("title", "body"),
    "deliveries": ("target", "error"),
    "webhook_deliveries": ("payload", "last_error"),
    "client_actions": ("message",),
    "kept_reports": ("payload",),
    "job_runs": ("error",),
    "work_requests": ("error",),
    "import_runs": ("error",),
}
# JSON columns that carry what people typed (an import's raw cells, a work request's answer).
FREE_JSON: dict[str, tuple[str, ...]] = {
    "import_rows": ("cells", "problems"),
    "import_runs": ("problems",),
    "work_requests": ("arguments", "result"),
}
# A person's own fields, written by the erasure itself; the audit log's values, changed only
# through crm.services.install.audit_retention; the sign-in tables, whose rows are deleted.
PERSON_FIELDS: dict[str, tuple[str, ...]] = {
    "users": ("name", "email", "phone"),
    "contacts": ("name", "phone", "phone_digits", "wechat_id", "search_key"),
    "audit_entries": ("changes",),
    "login_attempts": ("login", "address"),
    "user_sessions": ("user_agent", "address"),
    "api_tokens": ("name",),
}
# Codes, states, hashes, catalogue words, file names and links: no person's words.
KEPT: dict[str, tuple[str, ...]] = {
    "cache_versions": ("name",),
    "holidays": ("name", "kind"),
    "job_runs": ("job", "run_key", "outcome", "counts"),
    "metrics": ("code", "name_en", "name_zh", "unit", "direction"),
    "scheduler_leases": ("name", "holder"),
    "stage_definitions": ("code", "name_en", "name_zh", "description_en", "description_zh"),
    "teams": ("name",),
    "belts": (
        "code",
        "name_zh",
        "name_en",
        "city_zh",
        "city_en",
        "province_zh",
        "province_en",
        "category_zh",
        "category_en",
    ),
    "notification_channels": ("kind", "url", "keyword", "secret", "locale"),
    "task_templates": ("stage_code", "title_en", "title_zh", "kind", "metric_code", "comparison"),
    "users": ("password_hash", "role", "locale", "email_kinds"),
    "api_tokens": ("token_hash", "prefix"),
    "audit_entries": ("actor_job", "record_type", "action", "personal_fields"),
    "client_actions": ("client_key", "kind", "fingerprint", "location"),
    # A factory is a business: its name and address are not a person's.
    "factories": (
        "name",
        "credit_code",
        "category",
        "address",
        "shop_url",
        "status",
        "stage",
        "search_key",
    ),
    "kept_reports": ("key",),
    "password_resets": ("token_hash",),
    "recovery_codes": ("code_hash",),
    "route_plans": ("factory_ids",),
    "settings": ("key", "value"),
    "two_factors": ("secret",),
    "user_sessions": ("token_hash",),
    "webhook_deliveries": ("event", "dedupe_key", "status"),
    "work_requests": ("kind", "status", "phase", "claimed_by"),
    "contacts": ("role",),
    "factory_merges": ("merged_name",),
    "import_runs": (
        "kind",
        "filename",
        "file_format",
        "encoding",
        "delimiter",
        "headers",
        "mapping",
        "status",
        "counts",
    ),
    "invitations": ("token_hash",),
    "metric_snapshots": ("metric_code",),
    "notifications": ("kind", "link", "dedupe_key"),
    "stage_changes": ("from_status", "from_stage", "to_status", "to_stage", "decision"),
    "tasks": (
        "stage",
        "kind",
        "metric_code",
        "comparison",
        "status",
        "evidence_link",
        "evidence_file",
        "video_url",
    ),
    "deliveries": ("channel", "status"),
    "visits": ("purpose", "client_key", "fingerprint"),
    "follow_ups": ("origin", "status"),
    "visit_corrections": ("purpose",),
    "visit_photos": ("stored_name", "content_type", "sha256", "phash", "time_flag"),
    "visit_reviews": ("state",),
    "visit_voice_notes": ("stored_name", "content_type", "sha256"),
}


def needles(*values: str | None) -> list[str]:
    """The strings to look for: each value given, stripped, long enough, longest first (so that
    a phone as typed goes before its digits)."""
    found = {value.strip() for value in values if value and len(value.strip()) >= NEEDLE_MIN}
    return sorted(found, key=lambda value: (-len(value), value))


def spellings(needle: str) -> list[str]:
    """A needle as it may be stored: as it is, and as JSON writes it inside a string (a JSON
    column or a JSON payload kept as text escapes quotes, and may escape every non-ASCII
    character)."""
    forms = [needle, json.dumps(needle)[1:-1], json.dumps(needle, ensure_ascii=False)[1:-1]]
    return list(dict.fromkeys(forms))


def _table(name: str) -> Table:
    return db.metadata.tables[name]


def _naming(column, words: Iterable[str]) -> ColumnElement[bool]:
    return or_(*(column.contains(word, autoescape=True) for word in words))


def _words(found: list[str]) -> list[str]:
    return [word for needle in found for word in spellings(needle)]


def count(found: list[str]) -> dict[str, int]:
    """How many rows of free text (a text or JSON column) name the person, per table."""
    counts: dict[str, int] = {}
    if not found:
        return counts
    words = _words(found)
    for tables, as_text in ((FREE_TEXT, False), (FREE_JSON, True)):
        for table_name, columns in tables.items():
            table = _table(table_name)
            condition = or_(
                *(
                    _naming(cast(table.c[name], Text) if as_text else table.c[name], words)
                    for name in columns
                )
            )
            rows = db.session.scalar(select(func.count()).select_from(table).where(condition))
            counts[table_name] = counts.get(table_name, 0) + (rows or 0)
    return counts


def replace(found: list[str]) -> int:
    """Replace every occurrence of the needles in free text by the marker; returns the rows."""
    if not found:
        return 0
    words = _words(found)
    total = 0
    for table_name, columns in FREE_TEXT.items():
        table = _table(table_name)
        for name in columns:
            column = table.c[name]
            replaced = column
            for word in words:
                replaced = func.replace(replaced, word, MARKER)
            length = getattr(column.type, "length", None)
            if length:  # a marker longer than the name must not overflow a bounded column
                replaced = func.substr(replaced, 1, length)
            result = db.session.execute(
                update(table).where(_naming(column, words)).values({name: replaced}),
                execution_options={"synchronize_session": False},
            )
            total += result.rowcount or 0
    for table_name, columns in FREE_JSON.items():
        total += _replace_json(_table(table_name), columns, found, words)
    return total


def _replace_json(table: Table, columns: tuple[str, ...], found: list[str], words) -> int:
    """JSON values are walked in Python: only the rows that name the person, found in SQL."""
    key = table.c.id
    condition = or_(*(_naming(cast(table.c[name], Text), words) for name in columns))
    rows = db.session.execute(
        select(key, *(table.c[name] for name in columns)).where(condition)
    ).all()
    for row in rows:
        values = {name: scrub(row[index + 1], found) for index, name in enumerate(columns)}
        db.session.execute(
            update(table).where(key == row[0]).values(values),
            execution_options={"synchronize_session": False},
        )
    return len(rows)


def scrub(value: Any, found: list[str]) -> Any:
    """A JSON value with the needles replaced in every string in it (keys too)."""
    if isinstance(value, str):
        for needle in found:
            value = value.replace(needle, MARKER)
        return value
    if isinstance(value, list):
        return [scrub(item, found) for item in value]
    if isinstance(value, dict):
        return {scrub(name, found): scrub(item, found) for name, item in value.items()}
    return value


def text_columns() -> list[tuple[str, str]]:
    """Every text column of the schema (String, Text, JSON), as (table, column)."""
    return [
        (table.name, column.name)
        for table in db.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, db.String | JSON)
    ]
