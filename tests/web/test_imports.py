"""The import pages through the test client: upload, map, dry run, confirm; templates; exports."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Factory, ImportRun
from crm.services.accounts import auth
from tests import builders, ods_files
from tests.web.helpers import csrf_token


@pytest.fixture
def world(db_session):
    team_a, team_b = builders.team(), builders.team()
    belt = builders.belt(team_a, code="yongkang-hardware")
    belt.name_zh, belt.name_en = "永康五金", "Yongkang hardware"
    builders.belt(team_b, code="wenzhou-shoes")
    manager = builders.user("manager", leads=[team_a])
    other_manager = builders.user("manager", leads=[team_b])
    rep = builders.user("rep", team_=team_a)
    factory = builders.factory(belt, owner=rep, name="+86 Tools", category="=cups")
    builders.contact(factory, name="'Boss", phone="+86 138 0000 0000")
    factory_user = builders.user("factory", factory=factory)
    db_session.commit()
    return {
        "manager": manager,
        "other_manager": other_manager,
        "rep": rep,
        "factory_user": factory_user,
        "factory": factory,
    }


def signed_in(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    db.session.commit()
    return app.test_client(user=user)


def upload(client, data: bytes, filename: str, kind: str = "factories"):
    token = csrf_token(client, "/imports/")
    return client.post(
        "/imports/",
        data={"csrf_token": token, "kind": kind, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def latest_run(db_session) -> ImportRun:
    db_session.expire_all()
    return db_session.scalar(select(ImportRun).order_by(ImportRun.id.desc()))


def test_a_manager_uploads_maps_a_header_checks_and_imports(app, world, db_session):
    client = signed_in(app, world["manager"])
    rows = "Tax number,企业名称,产业带\r\n{code},永康市恒达五金制品有限公司,永康五金\r\n"
    code = builders.credit_code(7001)
    answer = upload(client, rows.format(code=code).encode("gb18030"), "恒达.csv")
    assert answer.status_code == 303
    run = latest_run(db_session)
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Which column holds what" in page and "For example: " + code in page

    token = csrf_token(client, f"/imports/{run.id}")
    refused = client.post(
        f"/imports/{run.id}/check",
        data={"csrf_token": token, "column_0": "name", "column_1": "name", "column_2": "belt"},
    )
    assert refused.status_code == 422
    assert "Column Tax number holds this field already" in refused.get_data(as_text=True)

    checked = client.post(
        f"/imports/{run.id}/check",
        data={
            "csrf_token": token,
            "column_0": "credit_code",
            "column_1": "name",
            "column_2": "belt",
        },
    )
    assert checked.status_code == 303
    page = client.get(f"/imports/{run.id}").get_data(as_text=True)
    assert "Every row is good" in page and "Import 1 row" in page
    assert db_session.scalar(select(func.count()).where(Factory.credit_code == code)) == 0

    done = client.post(f"/imports/{run.id}/confirm", data={"csrf_token": token})
    assert done.status_code == 303
    assert db_session.scalar(select(func.count()).where(Factory.credit_code == code)) == 1
    page = client.get(f"/imports/{run.id}").get_data(as_text=True)
    assert "Imported: 1 new, 0 changed, 0 unchanged." in page
    progress = client.get(f"/imports/{run.id}/progress").get_json()
    assert progress == {
        "status": "done",
        "phase": "",
        "processed": 1,
        "total": 1,
        "percent": 100,
        "waiting": False,
        "done": True,
    }
    again = client.post(f"/imports/{run.id}/confirm", data={"csrf_token": token})
    assert again.status_code == 409


def test_a_refused_dry_run_lists_the_lines_and_a_confirm_is_refused(app, world, db_session):
    client = signed_in(app, world["manager"])
    rows = "统一社会信用代码,企业名称,产业带\r\n{code},温州鞋厂,wenzhou-shoes\r\n"
    upload(client, rows.format(code=builders.credit_code(7002)).encode(), "x.csv")
    run = latest_run(db_session)
    token = csrf_token(client, f"/imports/{run.id}")
    client.post(
        f"/imports/{run.id}/check",
        data={
            "csrf_token": token,
            "column_0": "credit_code",
            "column_1": "name",
            "column_2": "belt",
        },
    )
    page = client.get(f"/imports/{run.id}").get_data(as_text=True)
    assert "1 problem: nothing was imported" in page
    assert "The belt wenzhou-shoes is outside your scope." in page
    assert client.post(f"/imports/{run.id}/confirm", data={"csrf_token": token}).status_code == 409


def test_the_dry_run_names_the_columns_it_will_not_import(app, world, db_session):
    client = signed_in(app, world["manager"])
    code = builders.credit_code(7003)
    rows = (
        "统一社会信用代码,企业名称,产业带,详细地址,是否重点客户,备注\r\n"
        f"{code},恒达,永康五金,五金城8号,是,x\r\n"
    )
    upload(client, rows.encode(), "libreoffice.csv")
    run = latest_run(db_session)
    assert run.mapping == ["credit_code", "name", "belt", "address", "is_key_account", ""]
    token = csrf_token(client, f"/imports/{run.id}")
    mapping = {f"column_{index}": name for index, name in enumerate(run.mapping)}
    client.post(f"/imports/{run.id}/check", data={"csrf_token": token, **mapping})
    page = client.get(f"/imports/{run.id}").get_data(as_text=True)
    assert "Every row is good" in page
    assert re.search(
        r'This column will not be imported:</p>\s*<ul class="im-left-out-list"><li>备注</li></ul>',
        page,
    )
    client.post(f"/imports/{run.id}/confirm", data={"csrf_token": token})
    hengda = db_session.scalar(select(Factory).where(Factory.credit_code == code))
    assert (hengda.address, hengda.is_key_account) == ("五金城8号", True)


def test_the_dry_run_names_the_columns_left_out_in_chinese(app, world, db_session):
    """The columns left out are named in the manager's language too."""
    world["manager"].locale = "zh_Hans"
    db_session.commit()
    client = signed_in(app, world["manager"])
    rows = "统一社会信用代码,企业名称,,产业带,备注\r\n{code},恒达,y,永康五金,x\r\n"
    upload(client, rows.format(code=builders.credit_code(7005)).encode(), "x.csv")
    run = latest_run(db_session)
    token = csrf_token(client, f"/imports/{run.id}")
    mapping = {f"column_{index}": name for index, name in enumerate(run.mapping)}
    client.post(f"/imports/{run.id}/check", data={"csrf_token": token, **mapping})
    page = client.get(f"/imports/{run.id}").get_data(as_text=True)
    assert re.search(
        r"以下2列不会导入：</p>\s*<ul class=\"im-left-out-list\"><li>第 3 列</li><li>备注</li>",
        page,
    )


def test_an_ods_from_libreoffice_is_read_not_refused_as_a_fake_xlsx(app, world, db_session):
    client = signed_in(app, world["manager"])
    code = builders.credit_code(7004)
    header = ["统一社会信用代码", "企业名称", "产业带", "详细地址"]
    data = ods_files.libreoffice_sheet([header, [code, "恒达", "永康五金", "五金城8号"]])
    answer = upload(client, data, "工厂.ods")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    run = latest_run(db_session)
    assert (run.file_format, run.headers, run.total_rows) == ("ods", header, 1)
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "For example: " + code in page


def test_a_fake_xlsx_is_refused_by_the_file_field(app, world, db_session):
    client = signed_in(app, world["manager"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    answer = upload(client, buffer.getvalue(), "factories.xlsx")
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert re.search(r'id="file-error">This file is not a real .xlsx spreadsheet', page)
    assert db_session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_another_manager_finds_no_run_and_a_rep_or_factory_user_cannot_reach_imports(
    app, world, db_session
):
    run = builders.import_run(world["manager"])
    db_session.commit()
    assert signed_in(app, world["other_manager"]).get(f"/imports/{run.id}").status_code == 404
    for who, status in (("rep", 403), ("factory_user", 404)):
        client = signed_in(app, world[who])
        assert client.get("/imports/").status_code == status
        assert client.get(f"/imports/{run.id}").status_code == status
        assert client.get("/factories/export.csv").status_code == status


@pytest.mark.parametrize(
    ("language", "header"),
    [
        ("en", ["Unified social credit code", "Figure", "Month", "Value"]),
        ("zh", ["统一社会信用代码", "数据指标", "月份", "数值"]),
    ],
)
def test_templates_come_in_english_and_chinese_as_csv_and_xlsx(app, world, language, header):
    client = signed_in(app, world["manager"])
    text = client.get(f"/imports/template?kind=snapshots&language={language}")
    assert text.data.startswith("\ufeff".encode())
    assert next(csv.reader(io.StringIO(text.data.decode("utf-8-sig")))) == header
    sheet = client.get(f"/imports/template?kind=snapshots&language={language}&format=xlsx")
    workbook = load_workbook(io.BytesIO(sheet.data))
    assert [cell.value for cell in workbook.active[1]] == header


def test_the_factory_export_is_scoped_guarded_and_writes_numbers_as_numbers(app, world, db_session):
    world["factory"].lat, world["factory"].lng = 28.9, 120.03
    db_session.commit()
    client = signed_in(app, world["manager"])
    rows = list(
        csv.reader(io.StringIO(client.get("/factories/export.csv").data.decode("utf-8-sig")))
    )
    assert rows[0][:3] == ["Unified social credit code", "Factory name", "Belt"]
    assert rows[1] == [
        world["factory"].credit_code,
        "'+86 Tools",
        "Yongkang hardware",
        "'=cups",
        "",
        "",
        "28.9",
        "120.03",
        "no",
        "'Boss",
        "'+86 138 0000 0000",
    ]
    sheet = load_workbook(io.BytesIO(client.get("/factories/export.xlsx").data)).active
    assert [cell.value for cell in sheet[2]][6:8] == [28.9, 120.03]
    other = signed_in(app, world["other_manager"]).get("/factories/export.csv")
    assert len(other.data.decode("utf-8-sig").strip().splitlines()) == 1  # the header alone


def test_a_large_file_is_checked_and_imported_by_the_scheduler_with_progress(
    app, world, db_session, monkeypatch
):
    from crm.services.install import work

    monkeypatch.setitem(app.config, "CRM_IMPORT_INLINE_ROWS", 1)
    client = signed_in(app, world["manager"])
    codes = [builders.credit_code(7100 + n) for n in range(3)]
    rows = "统一社会信用代码,企业名称,产业带\r\n" + "".join(
        f"{code},永康{n}厂,永康五金\r\n" for n, code in enumerate(codes)
    )
    upload(client, rows.encode(), "big.csv")
    run = latest_run(db_session)
    token = csrf_token(client, f"/imports/{run.id}")
    mapping = {"column_0": "credit_code", "column_1": "name", "column_2": "belt"}
    checked = client.post(f"/imports/{run.id}/check", data={"csrf_token": token, **mapping})
    assert checked.status_code == 303
    page = client.get(f"/imports/{run.id}").get_data(as_text=True)
    assert "Checking the file" in page and "Waiting to start…" in page
    assert client.get(f"/imports/{run.id}/progress").get_json()["waiting"] is True

    work.drain("test-scheduler")  # what the scheduler process does within seconds
    page = client.get(f"/imports/{run.id}").get_data(as_text=True)
    assert "Every row is good" in page and "Import 3 rows" in page

    assert client.post(f"/imports/{run.id}/confirm", data={"csrf_token": token}).status_code == 303
    assert "Waiting to start…" in client.get(f"/imports/{run.id}").get_data(as_text=True)
    assert db_session.scalar(select(func.count()).where(Factory.credit_code.in_(codes))) == 0
    progress = client.get(f"/imports/{run.id}/progress").get_json()
    assert (progress["status"], progress["waiting"], progress["done"]) == ("applying", True, False)

    work.drain("test-scheduler")
    assert db_session.scalar(select(func.count()).where(Factory.credit_code.in_(codes))) == 3
    progress = client.get(f"/imports/{run.id}/progress").get_json()
    assert progress == {
        "status": "done",
        "phase": "",
        "processed": 3,
        "total": 3,
        "percent": 100,
        "waiting": False,
        "done": True,
    }
    assert "Imported: 3 new, 0 changed, 0 unchanged." in client.get(f"/imports/{run.id}").get_data(
        as_text=True
    )


def test_an_apply_that_fails_shows_its_error_on_the_page(app, world, db_session, monkeypatch):
    from crm.services.imports import runs as imports

    def broken(actor, result, now):
        raise RuntimeError("the database went away")

    monkeypatch.setitem(imports.WRITERS, "factories", broken)
    client = signed_in(app, world["manager"])
    code = builders.credit_code(7200)
    sheet = f"统一社会信用代码,企业名称,产业带\r\n{code},坏厂,永康五金\r\n"
    upload(client, sheet.encode(), "f.csv")
    run = latest_run(db_session)
    token = csrf_token(client, f"/imports/{run.id}")
    client.post(
        f"/imports/{run.id}/check",
        data={
            "csrf_token": token,
            "column_0": "credit_code",
            "column_1": "name",
            "column_2": "belt",
        },
    )
    answer = client.post(f"/imports/{run.id}/confirm", data={"csrf_token": token})
    assert answer.status_code == 303
    page = client.get(f"/imports/{run.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "The work stopped on an error (RuntimeError); nothing was changed." in text
    assert latest_run(db_session).status == "failed"
    assert db_session.scalar(select(func.count()).where(Factory.credit_code == code)) == 0
