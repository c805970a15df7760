"""OpenDocument spreadsheets (.ods, LibreOffice's own format) read as they stream, within bounds.

No kept library reads .ods within the import's limits: python-calamine and odfpy build the
whole sheet in memory, and .ods writes a run of equal cells or rows as one element with a
count (`number-columns-repeated`, `number-rows-repeated`), so a 700-byte file can declare 16
billion cells (calamine took 17 s and 3.6 GB for one of 1,500 rows × 60,000 cells). This reader
streams `content.xml` with the standard library and expands a count only as far as the import
reads anyway: `max_columns` cells a row, and rows up to the spreadsheet's own last line; a run
of empty rows is counted, never built. What the archive unpacks to and what one cell holds are
capped, so the work a file causes is bounded whatever it declares.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from xml.etree.ElementTree import Element, XMLPullParser

TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
CELLS = (f"{TABLE}table-cell", f"{TABLE}covered-table-cell")
PARAGRAPHS = (f"{TEXT}p", f"{TEXT}h")
# The last line of a LibreOffice or Excel sheet: a row number past it holds nothing real.
SHEET_ROWS = 1_048_576
# What content.xml may unpack to, and what one cell may hold (Excel's own cell limit, and
# a bound on the markup inside it), before the file is refused as too large.
XML_MAX = 512 * 1024 * 1024
CELL_TEXT_MAX = 32_767
CELL_ELEMENTS_MAX = 10_000
READ_SIZE = 64 * 1024


class TooLarge(ValueError):
    """The file unpacks to, or holds in one cell, more than this reader takes."""


def looks_like_ods(data: bytes) -> bool:
    """An ODF package starts with its uncompressed "mimetype" entry, which names the kind."""
    return data.startswith(b"PK\x03\x04") and data[30:38] == b"mimetype" and MIMETYPE in data[:100]


def records(archive: zipfile.ZipFile, max_columns: int) -> Iterator[list]:
    """The first sheet's lines from line 1, each a list of at most `max_columns` values (None
    for an empty cell, trailing ones dropped; [] for an empty line).

    Raises zipfile.BadZipFile, KeyError (no content.xml), xml.etree.ElementTree.ParseError or
    ValueError (a count that is not a number) for a damaged file, and TooLarge.
    """
    if archive.read("mimetype").strip() != MIMETYPE:
        raise ValueError("not a spreadsheet")
    line = 0
    pending_empty = 0  # empty lines are given out only when a filled line follows them
    for row, repeat in _rows(archive, max_columns):
        repeat = min(repeat, SHEET_ROWS - line)
        if repeat <= 0:
            return
        line += repeat
        if not row:
            pending_empty += repeat
            continue
        for _ in range(pending_empty):
            yield []
        pending_empty = 0
        for _ in range(repeat):
            yield list(row)


def _rows(archive: zipfile.ZipFile, max_columns: int) -> Iterator[tuple[list, int]]:
    """(cells, how many times the row repeats) for each row of the first table."""
    parser = XMLPullParser(events=("start", "end"))
    path: list[Element] = []  # the open elements, outermost first
    row: list = []
    cell_depth = 0  # the depth of the cell being read, 0 outside a cell
    cell_size = [0, 0]  # characters and elements inside the current cell
    with archive.open("content.xml") as content:
        unpacked = 0
        while chunk := content.read(READ_SIZE):
            unpacked += len(chunk)
            if unpacked > XML_MAX:
                raise TooLarge("content.xml")
            parser.feed(chunk)
            for event, element in parser.read_events():
                if event == "start":
                    path.append(element)
                    if element.tag == f"{TABLE}table-row":
                        row = []
                    elif element.tag in CELLS and not cell_depth:
                        cell_depth, cell_size = len(path), [0, 0]
                    continue
                path.pop()
                if cell_depth and len(path) >= cell_depth:  # inside a cell: keep until its end
                    cell_size[0] += len(element.text or "") + len(element.tail or "")
                    cell_size[1] += 1
                    if cell_size[0] > CELL_TEXT_MAX or cell_size[1] > CELL_ELEMENTS_MAX:
                        raise TooLarge("cell")
                    continue
                if element.tag in CELLS:
                    cell_depth = 0
                    room = max_columns - len(row)
                    if room > 0:
                        row.extend([_value(element)] * min(_count(element, "columns"), room))
                elif element.tag == f"{TABLE}table-row":
                    while row and row[-1] is None:
                        row.pop()
                    yield row, _count(element, "rows")
                elif element.tag == f"{TABLE}table":
                    return  # the first sheet only
                if path:  # what has been read is let go, so memory stays flat
                    path[-1].remove(element)
        parser.close()


def _count(element: Element, what: str) -> int:
    count = int(element.get(f"{TABLE}number-{what}-repeated", "1"))
    if count < 1:
        raise ValueError("repeat count")
    return count


def _value(cell: Element):
    """The cell's value as the xlsx reader gives it: a number, a boolean, an ISO date, text."""
    kind = cell.get(f"{OFFICE}value-type")
    if kind in ("float", "percentage", "currency"):
        value = float(cell.get(f"{OFFICE}value", ""))
        return int(value) if value.is_integer() else value
    if kind == "boolean":
        return cell.get(f"{OFFICE}boolean-value") == "true"
    if kind == "date":
        value = cell.get(f"{OFFICE}date-value", "")
        return value.removesuffix("T00:00:00")
    text = "\n".join(_paragraph(p) for p in cell if p.tag in PARAGRAPHS)
    return text if text else None


def _paragraph(paragraph: Element) -> str:
    """A paragraph's text with its spaces, tabs and line breaks, read without recursion."""
    parts: list[str] = []
    stack: list[tuple[Element, bool]] = [(paragraph, False)]
    while stack:
        element, done = stack.pop()
        if done:  # after the element's children: its tail, unless it is the paragraph itself
            if element is not paragraph:
                parts.append(element.tail or "")
            continue
        if element.tag == f"{OFFICE}annotation":  # a comment on the cell is not its value
            parts.append(element.tail or "")
            continue
        if element.tag == f"{TEXT}s":
            parts.append(" " * min(int(element.get(f"{TEXT}c", "1")), CELL_TEXT_MAX))
        elif element.tag == f"{TEXT}tab":
            parts.append("\t")
        elif element.tag == f"{TEXT}line-break":
            parts.append("\n")
        parts.append(element.text or "")
        stack.append((element, True))
        stack.extend((child, False) for child in reversed(element))
    return "".join(parts)
