"""The spreadsheets an import reads: CSV, xlsx and ods decoded within the row and column limits.

Which column holds what is crm.services.imports.import_columns. Cells come back as text or
numbers, with the export's formula guard taken
off (crm.export.GUARDED_STARTS): a `'` before `=`, `+`, `-`, `@`, a tab or a carriage
return is the export's, any other leading `'` is the user's own and stays.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time

from flask_babel import gettext as _

from crm.errors import Invalid
from crm.export import GUARDED_STARTS
from crm.services.imports import import_ods
from crm.services.imports.import_columns import NO, YES

MAX_ROWS = 200_000
MAX_COLUMNS = 60
# --- reading a file ------------------------------------------------------------------------


@dataclass
class Sheet:
    """The cells of an uploaded file: its header, and each data row with its line number."""

    file_format: str
    headers: list[str]
    rows: list[list]  # [line, cell, cell, ...]
    encoding: str = ""
    delimiter: str = ""


def read(data: bytes, filename: str) -> Sheet:
    """The file's header and rows, or Invalid by the `file` field saying how to put it right."""
    name = (filename or "").lower()
    if not data.strip():
        raise _bad(_("The file is empty. Choose the spreadsheet with your rows."))
    if name.endswith(".ods") or import_ods.looks_like_ods(data):
        return _read_ods(data)
    if data.startswith(b"PK\x03\x04") or name.endswith(".xlsx"):
        return _read_xlsx(data)
    if name.endswith(".xls") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _bad(
            _("Old .xls files cannot be read: save the sheet as .xlsx or CSV and upload it.")
        )
    return _read_csv(data)


def _bad(message: str) -> Invalid:
    return Invalid(message, fields={"file": message})


def unguard(value: str) -> str:
    """Take off the export's formula guard: a `'` before =, +, -, @, a tab or a carriage return."""
    if len(value) > 1 and value[0] == "'" and value[1] in GUARDED_STARTS:
        return value[1:]
    return value


def decode(data: bytes) -> tuple[str, str]:
    """Text of the file: UTF-8 (with or without a BOM), else GB18030 as Chinese systems save it."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise _bad(
            _("The file's text could not be read: save it as CSV in UTF-8 (or GB18030) and retry.")
        ) from None


def sniff_delimiter(text: str) -> str:
    """A comma or a tab, whichever the header line holds more of (outside quotes)."""
    first = re.sub(r'"[^"]*"', "", text.split("\n", 1)[0])
    return "\t" if first.count("\t") > first.count(",") else ","


def _read_csv(data: bytes) -> Sheet:
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = ([unguard(cell) for cell in record] for record in reader)
    try:
        return _sheet("csv", records, encoding, delimiter)
    except csv.Error as error:
        raise _bad(_("The CSV could not be read: %(error)s.", error=str(error))) from None


def _read_xlsx(data: bytes) -> Sheet:
    from openpyxl import load_workbook

    fake = _(
        "This file is not a real .xlsx spreadsheet (it is a zip of other files, or damaged). "
        "Open it in Excel or WPS, save it as .xlsx or CSV, and upload that."
    )
    if not data.startswith(b"PK\x03\x04"):
        raise _bad(fake)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "xl/workbook.xml" not in archive.namelist():
                raise _bad(fake)
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Invalid:
        raise
    except Exception:  # openpyxl raises many kinds for a damaged file; all mean the same here
        raise _bad(fake) from None
    try:
        return _sheet("xlsx", _xlsx_records(workbook.worksheets[0]))
    except Invalid:
        raise
    except Exception:
        raise _bad(fake) from None
    finally:
        workbook.close()


def _read_ods(data: bytes) -> Sheet:
    """LibreOffice's own format, read as it streams within the same row and column limits."""
    damaged = _(
        "This .ods spreadsheet could not be read (it is damaged, or another kind of file). "
        "Open it in LibreOffice or WPS, save it as .xlsx or CSV, and upload that."
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            records = import_ods.records(archive, MAX_COLUMNS + 1)
            return _sheet("ods", ([_xlsx_cell(cell) for cell in row] for row in records))
    except Invalid:
        raise
    except import_ods.TooLarge:
        raise _bad(
            _(
                "This .ods spreadsheet is too large to read: save it as CSV, "
                "or split it, and upload that."
            )
        ) from None
    except Exception:  # a damaged zip or XML raises many kinds; all mean the same here
        raise _bad(damaged) from None


def _xlsx_records(sheet) -> Iterator[list]:
    """The sheet's rows from A1, each at most one column past the limit, read as they stream.

    The sheet's declared dimension is the file's word, not its content: openpyxl pads every row
    to the declared width (a 5 KB file that declares A1:XFD6000 made 6,000 rows of 16,384 cells)
    and stops at the declared last row. Forgetting it, and asking for one column past the limit
    (enough to tell that the header is too wide), bounds each row whatever the file says.
    """
    sheet.reset_dimensions()  # iter_rows starts at A1 whatever the file declares
    for row in sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True):
        yield [_xlsx_cell(cell) for cell in row] if any(cell is not None for cell in row) else []


def _xlsx_cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return YES["en"] if value else NO["en"]
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return unguard(str(value))


def _sheet(
    file_format: str, records: Iterable[list], encoding: str = "", delimiter: str = ""
) -> Sheet:
    """The header and the rows below it, read one record at a time; a file past the row or
    column limit is refused as soon as it shows it, before the rest is read."""
    headers: list[str] | None = None
    rows: list[list] = []
    for line, record in enumerate(records, start=1):
        if not _filled(record):
            continue
        if headers is None:
            width = _width(record)
            if width > MAX_COLUMNS:
                raise _bad(_("The file has more than %(count)d columns.", count=MAX_COLUMNS))
            headers = [str(cell).strip() for cell in record[:width]]
            continue
        if len(rows) == MAX_ROWS:
            raise _bad(
                _(
                    "The file has more than %(max)d rows; import at most %(max)d at a time.",
                    max=MAX_ROWS,
                )
            )
        # Cells past the header's width have no column to be mapped to: they are not kept.
        rows.append([line, *record[:width]])
    if headers is None:
        raise _bad(_("The file has no rows. The first row names the columns; rows follow it."))
    if not rows:
        raise _bad(_("The file has a header row but no rows below it."))
    return Sheet(file_format, headers, rows, encoding, delimiter)


def _filled(record: list) -> bool:
    return any(str(cell).strip() for cell in record)


def _width(header: list) -> int:
    width = len(header)
    while width and not str(header[width - 1]).strip():
        width -= 1
    return width
