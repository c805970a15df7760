"""The one export module: every list a manager exports goes out through here, as CSV or xlsx.

CSV streams row by row (bounded memory) as UTF-8 with a byte-order mark so that Excel
reads Chinese correctly; xlsx is written by openpyxl's write-only mode to a spooled
temporary file. In both, numbers stay numbers and only a text cell that a spreadsheet
would run as a formula is neutralised (OWASP "CSV injection"): it gets a leading
apostrophe. The import (crm.services.imports.import_formats) takes exactly this guard off again,
so an exported file re-imports unchanged.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import Response, stream_with_context
from openpyxl import Workbook

FORMATS = ("csv", "xlsx")
# Characters that make a spreadsheet treat a cell as a formula or a command (OWASP's list).
# The import reads a `'` before one of them as this guard and drops it; any other leading
# `'` is the user's own, so the two lists must stay one.
GUARDED_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
CHUNK_ROWS = 500
SPOOL_BYTES = 8 * 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(value: Any) -> Any:
    """The value as a cell: a number stays a number (a negative one too); text that could run
    as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if text.startswith(GUARDED_STARTS):
        return "'" + text
    return text


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """CSV bytes, a few hundred rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow([neutralise(name) for name in header])
    for count, row in enumerate(rows, start=1):
        writer.writerow([neutralise(value) for value in row])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def xlsx_file(header: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "Export"):
    """An xlsx workbook in a spooled temporary file, positioned at its start."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "Export")
    sheet.append([neutralise(name) for name in header])
    for row in rows:
        sheet.append([neutralise(value) for value in row])
    # Closed by the response once it is sent (see _read_spooled).
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    workbook.save(spooled)
    spooled.seek(0)
    return spooled


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "ignore").decode() or "export"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def response(
    export_format: str, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Response:
    """A download of the rows in the format asked for (`csv` or `xlsx`)."""
    if export_format == "xlsx":
        spooled = xlsx_file(header, rows)
        result = Response(_read_spooled(spooled), mimetype=XLSX_TYPE)
        name = f"{filename}.xlsx"
    else:
        result = Response(_streamed(csv_chunks(header, rows)), mimetype="text/csv")
        result.charset = "utf-8"
        name = f"{filename}.csv"
    result.headers["Content-Disposition"] = _disposition(name)
    result.headers["Cache-Control"] = "no-store"
    return result


def _streamed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks, made in the request's context, starting with an empty chunk made outside it.

    A server that reads the first chunk only to learn the status (Werkzeug's test client
    does) and never closes the body would otherwise leave the request's context pushed on
    its thread; an empty first chunk costs nothing to a server that reads the whole body.
    """
    return itertools.chain((b"",), stream_with_context(chunks))


def _read_spooled(spooled, size: int = 64 * 1024) -> Iterator[bytes]:
    try:
        while chunk := spooled.read(size):
            yield chunk
    finally:
        spooled.close()
