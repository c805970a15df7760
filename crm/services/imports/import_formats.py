"""The spreadsheets an import reads: its columns in two languages, CSV, xlsx and ods decoding.

A column is recognised by its header in English or Chinese (the labels the factory pages
use, and the words managers' own sheets use for them); any other header waits for the
user to map it. Cells come back as text or numbers, with the export's formula guard taken
off (crm.export.GUARDED_STARTS): a `'` before `=`, `+`, `-`, `@`, a tab or a carriage
return is the export's, any other leading `'` is the user's own and stays.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.errors import Invalid
from crm.export import GUARDED_STARTS
from crm.services.imports import import_ods

MAX_ROWS = 200_000
MAX_COLUMNS = 60
LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Field:
    """One thing an import reads: its name, labels in both languages, and other headers for it."""

    name: str
    label_en: str
    label_zh: str
    required: bool = False
    aliases: tuple[str, ...] = ()

    def label(self, language: str) -> str:
        return self.label_zh if language.startswith("zh") else self.label_en

    def headers(self) -> set[str]:
        return {
            header_key(text) for text in (self.name, self.label_en, self.label_zh, *self.aliases)
        }


# Each field's other names: the words of managers' own sheets, of LibreOffice's and WPS's
# templates and of other CRMs' exports, in Chinese and English. A header is compared after
# header_key, so case, spaces, full-width forms and marks such as "*" or "(必填)" do not count.
CREDIT_CODE = Field(
    "credit_code",
    "Unified social credit code",
    "统一社会信用代码",
    required=True,
    aliases=(
        "credit code",
        "social credit code",
        "USCC",
        "信用代码",
        "社会信用代码",
        "统一信用代码",
        "企业信用代码",
        "统一社会信用代码证",
    ),
)
FACTORY_FIELDS = (
    CREDIT_CODE,
    Field(
        "name",
        "Factory name",
        "企业名称",
        required=True,
        aliases=(
            "name",
            "factory",
            "company",
            "company name",
            "enterprise name",
            "supplier name",
            "名称",
            "工厂名称",
            "公司名称",
            "企业名",
            "厂名",
            "厂家名称",
            "商家名称",
            "供应商名称",
        ),
    ),
    Field(
        "belt",
        "Belt",
        "产业带",
        required=True,
        aliases=("industrial belt", "industry belt", "belt code", "所属产业带", "产业带名称"),
    ),
    Field(
        "category",
        "Category",
        "品类",
        aliases=(
            "main category",
            "product category",
            "主营类目",
            "主营品类",
            "类目",
            "主营产品",
            "经营类目",
            "所属类目",
        ),
    ),
    Field(
        "address",
        "Address",
        "地址",
        aliases=(
            "full address",
            "street address",
            "factory address",
            "company address",
            "详细地址",
            "企业地址",
            "工厂地址",
            "公司地址",
            "联系地址",
            "经营地址",
            "厂址",
        ),
    ),
    Field(
        "shop_url",
        "Shop link",
        "店铺链接",
        aliases=(
            "shop",
            "shop url",
            "shop address",
            "store link",
            "store url",
            "online shop",
            "店铺",
            "网店",
            "网店链接",
            "网店地址",
            "店铺地址",
            "店铺网址",
        ),
    ),
    Field("lat", "Latitude", "纬度", aliases=("lat",)),
    Field("lng", "Longitude", "经度", aliases=("lng", "lon", "long")),
    Field(
        "is_key_account",
        "Key account",
        "重点客户",
        aliases=(
            "KA",
            "is key account",
            "key customer",
            "大客户",
            "是否重点客户",
            "是否重点",
            "重点企业",
            "是否大客户",
            "是否KA",
        ),
    ),
    Field(
        "contact_name",
        "Contact",
        "联系人",
        aliases=("contact name", "contact person", "联系人姓名", "负责人", "对接人"),
    ),
    Field(
        "contact_phone",
        "Contact phone",
        "联系电话",
        aliases=(
            "phone",
            "mobile",
            "telephone",
            "tel",
            "phone number",
            "mobile phone",
            "电话",
            "手机",
            "手机号",
            "手机号码",
            "电话号码",
            "联系方式",
            "联系手机",
        ),
    ),
)
SNAPSHOT_FIELDS = (
    CREDIT_CODE,
    Field(
        "metric",
        "Figure",
        "数据指标",
        required=True,
        aliases=("metric", "metric code", "指标", "指标代码", "指标名称"),
    ),
    Field(
        "month",
        "Month",
        "月份",
        required=True,
        aliases=("period", "统计月份", "月", "统计周期"),
    ),
    Field("value", "Value", "数值", required=True, aliases=("值", "数据", "指标值")),
)
FIELDS = {"factories": FACTORY_FIELDS, "snapshots": SNAPSHOT_FIELDS}
KIND_LABELS = {"factories": _l("Factories"), "snapshots": _l("Monthly figures")}

# Yes and no as spreadsheets write them; the export writes the first of each language.
YES = {"en": "yes", "zh": "是"}
NO = {"en": "no", "zh": "否"}
TRUE_WORDS = frozenset({"yes", "y", "true", "1", "是", "√", "✓", "x"})
FALSE_WORDS = frozenset({"no", "n", "false", "0", "否", ""})
# "(optional)", "(必填)" and the like after a header, as templates mark their columns.
OPTIONAL_MARK = re.compile(r"[(\[【](?:optional|required|选填|必填|可选|非必填)[)\]】]")


def header_key(text: str) -> str:
    """A header reduced for comparison: full-width forms, case, spaces, punctuation and a mark
    such as "(optional)" or "（必填）" let go, so that "*企业名称（必填）：" is "企业名称"."""
    text = unicodedata.normalize("NFKC", str(text or "")).casefold()
    text = OPTIONAL_MARK.sub("", text)
    return re.sub(r"[\W_]", "", text)


def fields_of(kind: str) -> tuple[Field, ...]:
    return FIELDS[kind]


def field_named(kind: str, name: str) -> Field | None:
    return next((field for field in FIELDS[kind] if field.name == name), None)


def recognise(kind: str, headers: list[str]) -> list[str]:
    """The field each header names ("" when unknown); a field is taken by its first column only."""
    taken: set[str] = set()
    mapping = []
    for header in headers:
        key = header_key(header)
        match = next(
            (f.name for f in FIELDS[kind] if key and key in f.headers() and f.name not in taken),
            "",
        )
        taken.add(match)
        mapping.append(match)
    return mapping


def template_header(kind: str, language: str) -> list[str]:
    return [field.label(language) for field in FIELDS[kind]]


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
