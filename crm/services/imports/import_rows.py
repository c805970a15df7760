"""What the factory and figure imports share: staged rows by field and the plan."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from crm.extensions import db
from crm.models import ImportRow, ImportRun
from crm.services.imports.import_columns import fields_of

# Rows checked between two progress reports, and codes per prefetch query.
PROGRESS_EVERY = 5_000
CHUNK = 5_000
# Beyond this many keys, a prefetch reads the table in one pass rather than by IN lists.
BULK_KEYS = 2_000

Progress = Callable[[str, int], None]


@dataclass
class Plan:
    """What an import would do: its problems (nothing is written while there is one) and changes."""

    problems: list[dict] = field(default_factory=list)
    # Told per line but imported all the same (likely duplicates of a new factory).
    warnings: list[dict] = field(default_factory=list)
    creates: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    unchanged: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def refuse(self, line: int, column: str, message: str) -> None:
        self.problems.append({"line": line, "column": column, "message": str(message)})

    def warn(self, line: int, column: str, message: str) -> None:
        self.warnings.append(
            {"line": line, "column": column, "message": str(message), "warning": True}
        )

    @property
    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.creates),
            "updated": len(self.updates),
            "unchanged": self.unchanged,
        }


@dataclass
class Staged:
    """One staged row of the file: its line, the cells of the mapped columns by field, its id."""

    line: int
    values: dict[str, Any]
    id: int = 0

    def text(self, name: str) -> str:
        return cell_text(self.values.get(name, ""))


def cell_text(cell: Any) -> str:
    """A cell as text: a whole number from a spreadsheet without its ".0"."""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell if cell is not None else "").strip()


def staged_rows(run: ImportRun, plan: Plan) -> Iterator[Staged] | None:
    """The run's rows by field, or None after reporting each required field no column holds."""
    mapped = {name for name in run.mapping if name}
    missing = [f for f in fields_of(run.kind) if f.required and f.name not in mapped]
    for absent in missing:
        plan.refuse(
            1,
            absent.label_zh if run_language(run) == "zh" else absent.label_en,
            _("No column holds this: add the column, or choose which column holds it."),
        )
    if missing:
        return None
    positions = [(index, name) for index, name in enumerate(run.mapping) if name]

    def rows() -> Iterator[Staged]:
        statement = (
            select(ImportRow.id, ImportRow.line, ImportRow.cells)
            .where(ImportRow.run_id == run.id)
            .order_by(ImportRow.line)
        )
        for row_id, line, cells in db.session.execute(statement).all():
            values = {name: cells[i] if i < len(cells) else "" for i, name in positions}
            yield Staged(line, values, row_id)

    return rows()


def run_language(run: ImportRun) -> str:
    """The language of the file's own headers, for the names of columns it lacks."""
    return "zh" if any(any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in run.headers) else "en"


def column_labels(run: ImportRun) -> dict[str, str]:
    """Each mapped field's column as the file names it, for the report."""
    return {name: run.headers[i] for i, name in enumerate(run.mapping) if name}


def counted(rows: Iterable[Staged], progress: Progress | None) -> Iterator[Staged]:
    for count, row in enumerate(rows, start=1):
        if progress and count % PROGRESS_EVERY == 0:
            progress("checking", count)
        yield row


def keyed_in(column, keys: list) -> Iterator:
    """WHERE conditions that fetch the rows whose `column` is among `keys`.

    A few keys go as IN lists of a chunk each. Many go as one condition on the column being
    set, filtered by the caller: right after a large import PostgreSQL's statistics are stale,
    and an IN list of thousands planned as a sequential scan compares every row with every
    key; one pass over the table costs the same whatever the number of keys.
    """
    if len(keys) > BULK_KEYS:
        yield column.is_not(None)
        return
    for part in chunks(keys):
        yield column.in_(part)


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
