"""Imports: the dry run's exact report, all-or-nothing apply, re-import and export round trips."""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from crm import export
from crm.errors import Invalid
from crm.models import AuditEntry, Contact, Factory, MetricSnapshot
from crm.services.factories.credit_code import ALPHABET
from crm.services.imports import import_columns, import_factories, import_ods
from crm.services.imports import runs as imports
from crm.services.install import work
from tests import builders, ods_files

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db_session):
    team_a, team_b = builders.team(), builders.team()
    yongkang = builders.belt(team_a, code="yongkang-hardware")
    yongkang.name_zh, yongkang.name_en = "永康五金", "Yongkang hardware"
    wenzhou = builders.belt(team_b, code="wenzhou-shoes")
    wenzhou.name_zh, wenzhou.name_en = "温州鞋业", "Wenzhou shoes"
    manager = builders.user("manager", leads=[team_a])
    admin = builders.user("admin")
    db_session.flush()
    return {"manager": manager, "admin": admin, "yongkang": yongkang, "wenzhou": wenzhou}


def csv_bytes(rows: list[list], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def checked(actor, data: bytes, filename: str = "factories.csv", kind: str = "factories"):
    run = imports.upload(actor, kind, filename, data, NOW)
    return imports.dry_run(actor, run, NOW)


def imported(actor, data: bytes, filename: str = "factories.csv", kind: str = "factories"):
    run = checked(actor, data, filename, kind)
    assert imports.report(run) == [], imports.report(run)
    return applied(actor, run)


def applied(actor, run):
    """Confirm, then do the apply as the scheduler would: claim the work request and run it."""
    request = imports.confirm(actor, run, NOW)
    assert (request.kind, request.status, run.status) == ("import_apply", "pending", "applying")
    claimed = work.claim_next("test-scheduler", NOW)
    assert claimed.id == request.id and claimed.claimed_by == "test-scheduler"
    assert work.run(claimed).status == "done", claimed.error
    assert run.status == "done"
    assert work.claim_next("test-scheduler", NOW) is None  # claimed exactly once
    return run


def bad_check_digit(code: str) -> str:
    return code[:17] + next(c for c in ALPHABET if c != code[17])


def factory_rows(db_session) -> list[tuple]:
    return [
        tuple(row)
        for row in db_session.execute(
            select(
                Factory.credit_code,
                Factory.name,
                Factory.belt_id,
                Factory.category,
                Factory.address,
                Factory.shop_url,
                Factory.lat,
                Factory.lng,
                Factory.is_key_account,
                Factory.updated_at,
            ).order_by(Factory.credit_code)
        )
    ]


HEADER_ZH = ["统一社会信用代码", "企业名称", "产业带", "纬度", "经度"]


def test_a_file_with_bad_rows_of_every_kind_gets_the_exact_report_and_imports_nothing(
    world, db_session
):
    good, short = builders.credit_code(9001), builders.credit_code(9002)
    rows = [
        HEADER_ZH,
        [good, "永康市恒达五金制品有限公司", "永康五金", "28.9", "120.03"],
        [bad_check_digit(builders.credit_code(9003)), "错码工厂", "永康五金", "", ""],
        [builders.credit_code(9004), "火星工厂", "火星产业带", "", ""],
        [builders.credit_code(9005), "温州鞋厂", "wenzhou-shoes", "", ""],
        [good, "重复的恒达", "永康五金", "", ""],
        [builders.credit_code(9006), "坐标工厂", "yongkang-hardware", "北纬29", "120"],
        [short, "缺列工厂"],
    ]
    before = db_session.scalar(select(func.count()).select_from(Factory))
    run = checked(world["manager"], csv_bytes(rows, "gb18030"))
    assert run.encoding == "gb18030"
    assert imports.rows_of(run)[0][2] == "永康市恒达五金制品有限公司"
    assert run.status == "refused"
    assert imports.report(run) == [
        {
            "line": 3,
            "column": "统一社会信用代码",
            "message": "The last character (the check digit) does not match: check for a typo.",
        },
        {
            "line": 4,
            "column": "产业带",
            "message": "No belt is called 火星产业带: use a belt's name or code.",
        },
        {"line": 5, "column": "产业带", "message": "The belt wenzhou-shoes is outside your scope."},
        {"line": 6, "column": "统一社会信用代码", "message": "This credit code is on line 2 too."},
        {"line": 7, "column": "纬度", "message": "Enter a number from -90 to 90, such as 29.87."},
        {"line": 8, "column": "产业带", "message": "Enter the belt's name or code."},
    ]
    with pytest.raises(Exception, match="Check the file first"):
        imports.confirm(world["manager"], run, NOW)
    assert db_session.scalar(select(func.count()).select_from(Factory)) == before


def test_a_file_without_a_required_column_names_what_is_missing(world):
    rows = [["统一社会信用代码", "企业名称"], [builders.credit_code(9010), "无产业带工厂"]]
    run = checked(world["manager"], csv_bytes(rows))
    assert imports.report(run) == [
        {
            "line": 1,
            "column": "产业带",
            "message": "No column holds this: add the column, or choose which column holds it.",
        }
    ]


def test_the_good_file_imports_and_importing_it_again_changes_nothing(world, db_session):
    rows = [
        [*HEADER_ZH, "联系人", "联系电话"],
        [
            builders.credit_code(9020),
            "永康市恒达五金制品有限公司",
            "永康五金",
            "28.9",
            "120.03",
            "王经理",
            "+86 138 0000 0000",
        ],
        [builders.credit_code(9021), "Jinsheng Cups", "Yongkang hardware", "", "", "", ""],
        [builders.credit_code(9022), "永康市金盛工贸有限公司", "yongkang-hardware", "", "", "", ""],
    ]
    data = csv_bytes(rows, "gb18030", delimiter="\t")
    run = imported(world["manager"], data, "factories.txt")
    assert run.delimiter == "\t"
    assert run.counts == {"created": 3, "updated": 0, "unchanged": 0}
    hengda = db_session.scalar(select(Factory).where(Factory.credit_code == rows[1][0]))
    assert (hengda.name, hengda.belt_id, hengda.status, hengda.lat) == (
        "永康市恒达五金制品有限公司",
        world["yongkang"].id,
        "prospect",
        28.9,
    )
    assert [(c.name, c.phone, c.phone_digits) for c in hengda.contacts] == [
        ("王经理", "+86 138 0000 0000", "13800000000")
    ]
    run_audit = db_session.scalar(
        select(AuditEntry).where(
            AuditEntry.record_type == "import_run", AuditEntry.record_id == run.id
        )
    )
    assert run_audit.changes == {"created": [None, 3], "updated": [None, 0], "unchanged": [None, 0]}
    assert (
        db_session.scalar(
            select(func.count()).where(
                AuditEntry.record_type == "factory", AuditEntry.action == "create"
            )
        )
        == 3
    )

    stored, audits = factory_rows(db_session), db_session.scalar(select(func.count(AuditEntry.id)))
    again = imported(world["manager"], data, "factories.txt")
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 3}
    assert factory_rows(db_session) == stored
    assert db_session.scalar(select(func.count(AuditEntry.id))) == audits + 1  # the run's own


def test_an_xlsx_with_chinese_headers_dry_runs_to_the_expected_report(world):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["统一社会信用代码", "企业名称", "产业带", "重点客户", "店铺链接"])
    sheet.append(
        [
            builders.credit_code(9030),
            "永康市恒达五金制品有限公司",
            "永康五金",
            "是",
            "https://shop.example.com",
        ]
    )
    sheet.append([builders.credit_code(9031), "金盛工贸", "永康五金", "也许", ""])
    sheet.append([builders.credit_code(9032), "", "永康五金", "否", "shop.example.com"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    run = checked(world["manager"], buffer.getvalue(), "工厂.xlsx")
    assert run.file_format == "xlsx"
    assert run.mapping == ["credit_code", "name", "belt", "is_key_account", "shop_url"]
    assert imports.report(run) == [
        {"line": 3, "column": "重点客户", "message": "Enter yes or no (是 or 否)."},
        {"line": 4, "column": "企业名称", "message": "Enter the factory's name."},
        {
            "line": 4,
            "column": "店铺链接",
            "message": "Enter the shop's web address, starting with https:// or http://.",
        },
    ]


def test_a_csv_with_unknown_headers_mapped_by_hand_dry_runs_to_the_expected_report(world):
    rows = [
        ["Tax ID", "Firm", "Cluster", "Boss phone"],
        [builders.credit_code(9040), "Hengda Hardware", "yongkang-hardware", ""],
        [builders.credit_code(9041), "Jinsheng", "yongkang-hardware", "138 0000 0000"],
        ["", "No Code Co.", "yongkang-hardware", "abc"],
    ]
    run = imports.upload(world["manager"], "factories", "sheet.csv", csv_bytes(rows), NOW)
    assert run.mapping == ["", "", "", ""]
    imports.dry_run(world["manager"], run, NOW)
    assert [problem["column"] for problem in imports.report(run)] == [
        "Unified social credit code",
        "Factory name",
        "Belt",
    ]
    with pytest.raises(Invalid):
        imports.set_mapping(world["manager"], run, ["credit_code", "credit_code", "belt", ""])
    imports.set_mapping(world["manager"], run, ["credit_code", "name", "belt", "contact_phone"])
    imports.dry_run(world["manager"], run, NOW)
    assert imports.report(run) == [
        {
            "line": 3,
            "column": "Boss phone",
            "message": "Enter the name of the person this phone reaches.",
        },
        {
            "line": 4,
            "column": "Tax ID",
            "message": "Enter the credit code: the import finds factories by it.",
        },
        {
            "line": 4,
            "column": "Boss phone",
            "message": "Type the number with digits, spaces, + and - only, such as 138 1234 5678.",
        },
    ]


def test_headers_of_libreoffice_and_chinese_sheets_are_recognised_and_their_values_arrive(
    world, db_session
):
    code = builders.credit_code(9060)
    rows = [
        [
            "*统一社会信用代码（必填）",
            "公司名称：",
            "所属产业带",
            "详细地址",
            "是否重点客户",
            "主营类目",
            "网店地址",
            "联系人",
            "手机号",
            "备注",
        ],
        [
            code,
            "永康市恒达五金制品有限公司",
            "永康五金",
            "浙江省永康市五金城 8 号",
            "是",
            "保温杯",
            "https://shop.example.com/hengda",
            "王经理",
            "138 0000 0000",
            "老客户介绍",
        ],
    ]
    run = checked(world["manager"], csv_bytes(rows))
    assert run.mapping == [
        "credit_code",
        "name",
        "belt",
        "address",
        "is_key_account",
        "category",
        "shop_url",
        "contact_name",
        "contact_phone",
        "",
    ]
    assert imports.left_out(run) == ["备注"]
    applied(world["manager"], run)
    hengda = db_session.scalar(select(Factory).where(Factory.credit_code == code))
    assert (hengda.address, hengda.is_key_account, hengda.category, hengda.shop_url) == (
        "浙江省永康市五金城 8 号",
        True,
        "保温杯",
        "https://shop.example.com/hengda",
    )
    assert [(c.name, c.phone) for c in hengda.contacts] == [("王经理", "138 0000 0000")]


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Company Name", "name"),
        ("ＦＡＣＴＯＲＹ　ＮＡＭＥ", "name"),
        ("企业名称 (必填)", "name"),
        ("工厂名称", "name"),
        ("信用代码", "credit_code"),
        ("社会信用代码*", "credit_code"),
        ("Full address", "address"),
        ("Is key account?", "is_key_account"),
        ("联系电话【选填】", "contact_phone"),
        ("Mobile phone", "contact_phone"),
        ("Contact person", "contact_name"),
        ("Shop URL", "shop_url"),
        ("品类", "category"),
    ],
)
def test_a_header_is_recognised_whatever_its_case_width_spaces_and_marks(header, field):
    assert import_columns.recognise("factories", [header]) == [field]


def test_no_two_fields_of_an_import_share_a_header():
    for fields in import_columns.FIELDS.values():
        names = [key for field in fields for key in field.headers()]
        assert len(names) == len(set(names))


def test_a_column_without_a_field_is_named_by_its_header_or_number(world):
    rows = [
        [*HEADER_ZH, "", "备注"],
        [builders.credit_code(9061), "恒达", "永康五金", "", "", "x", ""],
    ]
    run = checked(world["manager"], csv_bytes(rows))
    assert run.status == "checked"
    assert imports.left_out(run) == ["Column 6", "备注"]


def _exported(actor, file_format: str = "csv") -> bytes:
    header = import_factories.export_header("en")
    rows = list(import_factories.export_rows(actor, "en", NOW))
    if file_format == "xlsx":
        return export.xlsx_file(header, rows).read()
    return b"".join(export.csv_chunks(header, rows))


@pytest.fixture
def tricky(world, db_session):
    """Factories whose text starts like a formula, a +86 phone, and a real leading apostrophe."""
    belt = world["yongkang"]
    made = [
        builders.factory(belt, name='=HYPERLINK("http://evil")', category="+86 cups"),
        builders.factory(belt, name="-minus Tools", address="@home street", lat=29.1, lng=120.5),
        builders.factory(belt, name="'Quoted' Works", category="'plain", is_key_account=True),
        builders.factory(belt, name="Phone Co."),
    ]
    builders.contact(made[3], name="@Boss", phone="+86 138 0000 0000")
    db_session.flush()
    return made


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_exported_file_reimports_to_no_change_and_one_edited_cell_changes_that_field(
    world, tricky, db_session, file_format
):
    manager = world["manager"]
    data = _exported(manager, file_format)
    run = checked(manager, data, f"export.{file_format}")
    assert imports.report(run) == []
    assert run.counts == {"created": 0, "updated": 0, "unchanged": 4}
    cells = {row[2]: row[1:] for row in imports.rows_of(run)}
    assert set(cells) == {
        '=HYPERLINK("http://evil")',
        "-minus Tools",
        "'Quoted' Works",
        "Phone Co.",
    }
    assert cells["'Quoted' Works"][3] == "'plain"
    assert cells['=HYPERLINK("http://evil")'][3] == "+86 cups"
    assert cells["-minus Tools"][4] == "@home street"
    assert cells["Phone Co."][9:11] == ["@Boss", "+86 138 0000 0000"]

    stored = factory_rows(db_session)
    imported(manager, data, f"export.{file_format}")
    assert factory_rows(db_session) == stored

    edited = [list(row) for row in imports.rows_of(run)]  # change one cell: Phone Co.'s category
    target = next(row for row in edited if row[2] == "Phone Co.")
    target[4] = "stainless cups"
    again = checked(manager, csv_bytes([run.headers, *[row[1:] for row in edited]]))
    assert again.counts == {"created": 0, "updated": 1, "unchanged": 3}
    applied(manager, again)
    after = factory_rows(db_session)
    changed = [(b, a) for b, a in zip(stored, after, strict=True) if b != a]
    assert len(changed) == 1
    before_row, after_row = changed[0]
    assert [i for i in range(9) if before_row[i] != after_row[i]] == [3]  # the category only
    assert after_row[3] == "stainless cups"
    entry = db_session.scalar(
        select(AuditEntry).where(
            AuditEntry.record_type == "factory", AuditEntry.record_id == tricky[3].id
        )
    )
    assert entry.action == "update" and entry.changes == {"category": ["", "stainless cups"]}


def test_exported_text_cells_that_look_like_formulas_come_back_unchanged(world, tricky):
    data = _exported(world["manager"]).decode("utf-8-sig")
    assert "'=HYPERLINK" in data and "'+86 cups" in data and "'+86 138 0000 0000" in data
    assert "''Quoted' Works" not in data  # a real apostrophe is not guarded, and is kept
    run = imports.upload(world["manager"], "factories", "x.csv", data.encode(), NOW)
    names = sorted(row[2] for row in imports.rows_of(run))
    assert names == sorted(f.name for f in tricky)


def test_a_fake_xlsx_gets_a_clear_message(world):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes/readme.txt", "not a spreadsheet")
    with pytest.raises(Invalid) as refused:
        imports.upload(world["manager"], "factories", "factories.xlsx", buffer.getvalue(), NOW)
    assert "not a real .xlsx" in refused.value.fields["file"]
    with pytest.raises(Invalid, match=r"not a real \.xlsx"):
        imports.upload(world["manager"], "factories", "factories.xlsx", b"plain text", NOW)


def test_an_ods_saved_by_libreoffice_imports_like_an_xlsx(world, db_session):
    code = builders.credit_code(9070)
    data = ods_files.libreoffice_sheet(
        [
            [
                "统一社会信用代码",
                "企业名称",
                "产业带",
                "详细地址",
                "是否重点客户",
                "纬度",
                "经度",
                "备注",
            ],
            [
                code,
                "恒达  五金",
                "永康五金",
                "五金城 8 号\n二楼",
                True,
                28.9,
                120,
                date(2026, 10, 1),
            ],
            [],
            [builders.credit_code(9071), "'=金盛", "yongkang-hardware", "", False, 29, 120.5, None],
        ]
    )
    run = checked(world["manager"], data, "工厂.ods")
    assert run.file_format == "ods"
    assert run.headers[-1] == "备注" and imports.left_out(run) == ["备注"]
    assert imports.rows_of(run) == [
        [2, code, "恒达  五金", "永康五金", "五金城 8 号\n二楼", "yes", 28.9, 120, "2026-10-01"],
        [4, builders.credit_code(9071), "=金盛", "yongkang-hardware", "", "no", 29, 120.5],
    ]
    assert imports.report(run) == []
    applied(world["manager"], run)
    hengda = db_session.scalar(select(Factory).where(Factory.credit_code == code))
    assert (hengda.name, hengda.address, hengda.is_key_account, hengda.lat) == (
        "恒达  五金",
        "五金城 8 号\n二楼",
        True,
        28.9,
    )


def test_an_ods_that_repeats_a_row_past_the_limit_is_refused_at_the_limit(world):
    header = ["统一社会信用代码", "企业名称", "产业带"]
    data = ods_files.ods([header, ods_files.Rows(["x", "y", "z"], 1_000_000)])
    assert len(data) < 2_000
    started = time.perf_counter()
    with pytest.raises(Invalid, match="more than 200000 rows"):
        imports.upload(world["manager"], "factories", "bomb.ods", data, NOW)
    assert time.perf_counter() - started < 20


def test_an_ods_that_repeats_cells_is_read_no_wider_than_the_column_limit(world):
    header = ["统一社会信用代码", "企业名称", "产业带"]
    many = ods_files.Rows([ods_files.Repeat("x", 16_384)], 1_048_000)
    wide = ods_files.ods([[*header, ods_files.Repeat("x", 60_000)]])
    with pytest.raises(Invalid, match="more than 60 columns"):
        imports.upload(world["manager"], "factories", "wide.ods", wide, NOW)
    tracemalloc.start()
    try:
        with pytest.raises(Invalid, match="more than 60 columns"):
            imports.upload(world["manager"], "factories", "bomb.ods", ods_files.ods([many]), NOW)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024


def test_an_ods_that_unpacks_past_the_bound_or_is_damaged_gets_a_clear_message(world, monkeypatch):
    monkeypatch.setattr(import_ods, "XML_MAX", 1024 * 1024)
    padded = ods_files.ods([["企业名称"], ["x" * 30_000]] * 40)
    with pytest.raises(Invalid) as refused:
        imports.upload(world["manager"], "factories", "big.ods", padded, NOW)
    assert "too large to read" in refused.value.fields["file"]
    damaged = ods_files.ods([], content="<office:document-content><unclosed>")
    for data, name in ((damaged, "x.ods"), (b"PK\x03\x04 not a zip", "x.ods")):
        with pytest.raises(Invalid) as refused:
            imports.upload(world["manager"], "factories", name, data, NOW)
        assert refused.value.fields["file"].startswith(
            "This .ods spreadsheet could not be read (it is damaged, or another kind of file)."
        )


def test_a_rep_may_not_import(world, db_session):
    rep = builders.user("rep")
    with pytest.raises(Exception, match="Your role may not do this"):
        imports.upload(rep, "factories", "f.csv", csv_bytes([HEADER_ZH]), NOW)


def test_figures_import_by_credit_code_metric_and_month(world, db_session):
    mine = builders.factory(world["yongkang"], stage="junior")
    theirs = builders.factory(world["wenzhou"])
    rows = [
        ["统一社会信用代码", "数据指标", "月份", "数值"],
        [mine.credit_code, "response_3min_rate", "2026-10", "72.5"],
        [mine.credit_code, "72小时发货率", "2026年9月", "91"],
        [mine.credit_code, "no_such_metric", "2026-10", "1"],
        [mine.credit_code, "response_3min_rate", "2027-01", "50"],
        [mine.credit_code, "dispute_rate", "2026-10", "120"],
        [theirs.credit_code, "response_3min_rate", "2026-10", "50"],
        [builders.credit_code(9050), "response_3min_rate", "2026-10", "50"],
        [mine.credit_code, "response_3min_rate", "2026/10/01", "70"],
    ]
    run = checked(world["manager"], csv_bytes(rows), kind="snapshots")
    assert [(p["line"], p["column"]) for p in imports.report(run)] == [
        (4, "数据指标"),
        (5, "月份"),
        (6, "数值"),
        (7, "统一社会信用代码"),
        (8, "统一社会信用代码"),
        (9, "统一社会信用代码"),
    ]
    problems = imports.report(run)
    assert problems[3]["message"] == "A factory with this credit code exists outside your scope."
    assert imports.report(run)[5]["message"] == (
        "Line 2 has a figure for this factory, figure and month too."
    )
    good = csv_bytes(rows[:3])
    done = imported(world["manager"], good, kind="snapshots")
    assert done.counts == {"created": 2, "updated": 0, "unchanged": 0}
    values = dict(
        db_session.execute(
            select(MetricSnapshot.month, MetricSnapshot.value).where(
                MetricSnapshot.factory_id == mine.id
            )
        ).all()
    )
    assert values == {date(2026, 10, 1): Decimal("72.5"), date(2026, 9, 1): Decimal("91")}
    assert imported(world["manager"], good, kind="snapshots").counts["unchanged"] == 2
    changed = csv_bytes([rows[0], [mine.credit_code, "response_3min_rate", "2026-10", "80"]])
    assert imported(world["manager"], changed, kind="snapshots").counts["updated"] == 1


def test_a_hundred_thousand_rows_import(world, db_session):
    count = 100_000
    rows = [["Unified social credit code", "Factory name", "Belt", "Category"]]
    rows += [
        [builders.credit_code(200_000 + n), f"Factory {n}", "yongkang-hardware", "cups"]
        for n in range(count)
    ]
    run = imported(world["admin"], csv_bytes(rows), "big.csv")
    assert run.counts == {"created": count, "updated": 0, "unchanged": 0}
    assert (
        db_session.scalar(
            select(func.count()).select_from(Factory).where(Factory.belt_id == world["yongkang"].id)
        )
        == count
    )
    assert db_session.scalar(select(func.count()).select_from(Contact)) == 0
