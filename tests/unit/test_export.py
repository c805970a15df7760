"""The export module: formula cells neutralised, CSV streamed with a BOM, xlsx readable."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from crm import export

HEADER = ["企业名称", "GMV", "Note"]
ROWS = [
    ["永康市恒达五金制品有限公司", Decimal("1200.50"), '=HYPERLINK("http://evil")'],
    ["+86 Tools", 3, "-2+3"],
    ["@SUM(A1)", None, "plain text"],
    ["\tTabbed", True, date(2026, 11, 25)],
]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("safe = fine", "safe = fine"),
        (None, ""),
        (-5, -5),
        (Decimal("2.5"), Decimal("2.5")),
    ],
)
def test_cells_that_could_run_as_formulas_are_neutralised(value, cell):
    assert export.neutralise(value) == cell


def test_csv_has_a_bom_and_neutralised_cells():
    data = b"".join(export.csv_chunks(HEADER, ROWS)).decode("utf-8")
    assert data.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(data.lstrip("\ufeff"))))
    assert rows[0] == HEADER
    assert rows[1] == ["永康市恒达五金制品有限公司", "1200.50", '\'=HYPERLINK("http://evil")']
    assert rows[2][0] == "'+86 Tools" and rows[2][2] == "'-2+3"
    assert rows[3][0] == "'@SUM(A1)"


def test_csv_streams_in_chunks():
    chunks = list(export.csv_chunks(["n"], ([i] for i in range(1200))))
    assert len(chunks) == 3


def test_xlsx_is_readable_and_neutralised():
    spooled = export.xlsx_file(HEADER, ROWS, title="工厂")
    sheet = load_workbook(spooled).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == HEADER
    assert values[1][2] == '\'=HYPERLINK("http://evil")'
    assert values[3][0] == "'@SUM(A1)"


def test_download_names_keep_chinese_and_stay_safe(app):
    with app.test_request_context():
        response = export.response("csv", "工厂 export", HEADER, ROWS)
        body = b"".join(response.response)
    assert response.mimetype == "text/csv"
    assert (
        "filename*=UTF-8''%E5%B7%A5%E5%8E%82%20export.csv"
        in response.headers["Content-Disposition"]
    )
    assert body.startswith("\ufeff".encode())
    with app.test_request_context():
        xlsx = export.response("xlsx", "pipeline", HEADER, ROWS)
        assert load_workbook(io.BytesIO(b"".join(xlsx.response))).active.max_row == 5
