"""OpenDocument spreadsheets (.ods) written here as LibreOffice writes them, byte by byte.

A sheet is a list of rows, each row a list of cells: text, a number, a boolean, a date, None
for an empty cell, or a `Repeat(value, count)` for a run of equal cells (LibreOffice writes
its sheet's empty columns to the right as one such cell, and its empty rows below as one
row with `number-rows-repeated`). `Rows(row, count)` stands for a run of equal rows.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape, quoteattr

MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)


@dataclass(frozen=True)
class Repeat:
    value: object
    count: int


@dataclass(frozen=True)
class Rows:
    cells: list
    count: int


def ods(rows: list, *, content: str | None = None) -> bytes:
    """The .ods package of one sheet: the mimetype first and stored, as ODF requires."""
    body = "".join(_row(row) for row in rows)
    xml = content or (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {NAMESPACES} '
        'office:version="1.3"><office:automatic-styles/><office:body><office:spreadsheet>'
        f'<table:table table:name="Sheet1">{body}</table:table>'
        '<table:table table:name="Sheet2"><table:table-row><table:table-cell '
        'office:value-type="string"><text:p>not read</text:p></table:table-cell>'
        "</table:table-row></table:table></office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", xml)
        archive.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
            'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        )
    return buffer.getvalue()


def libreoffice_sheet(rows: list[list]) -> bytes:
    """`rows` as LibreOffice saves them: each row padded to the sheet's 16,384 columns by one
    repeated empty cell, and the sheet's empty rows below given as one repeated row."""
    padded = [[*row, Repeat(None, 16_384 - len(row))] for row in rows]
    return ods([*padded, Rows([Repeat(None, 16_384)], 1_048_576 - len(rows))])


def _row(row) -> str:
    count = ""
    if isinstance(row, Rows):
        count, row = f' table:number-rows-repeated="{row.count}"', row.cells
    return f"<table:table-row{count}>{''.join(_cell(cell) for cell in row)}</table:table-row>"


def _cell(cell) -> str:
    count = ""
    if isinstance(cell, Repeat):
        count, cell = f' table:number-columns-repeated="{cell.count}"', cell.value
    if cell is None:
        return f"<table:table-cell{count}/>"
    if isinstance(cell, bool):
        word = "true" if cell else "false"
        kind = f'office:value-type="boolean" office:boolean-value="{word}"'
        text = "TRUE" if cell else "FALSE"
    elif isinstance(cell, int | float):
        kind, text = f'office:value-type="float" office:value="{cell}"', str(cell)
    elif isinstance(cell, date):
        kind = f'office:value-type="date" office:date-value="{cell.isoformat()}"'
        text = cell.strftime("%d/%m/%Y")
    else:
        kind, text = 'office:value-type="string"', str(cell)
    paragraphs = "".join(f"<text:p>{_spaces(escape(line))}</text:p>" for line in text.split("\n"))
    return f"<table:table-cell{count} {kind}>{paragraphs}</table:table-cell>"


def _spaces(text: str) -> str:
    """Runs of spaces as ODF writes them: one space, then <text:s text:c="n"/> for the rest."""
    out, index = [], 0
    while index < len(text):
        if text[index] == " ":
            end = index
            while end < len(text) and text[end] == " ":
                end += 1
            out.append(" ")
            if end - index > 1:
                out.append(f"<text:s text:c={quoteattr(str(end - index - 1))}/>")
            index = end
        else:
            out.append(text[index])
            index += 1
    return "".join(out)
