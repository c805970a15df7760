"""Times a 100,000-row factory import: upload (read and stage), dry run, and the apply.

The dry run and the apply go through work requests, as the pages' do for a large file: each
is asked for, then claimed and run as the scheduler process would (crm.services.install.work).

    .venv/bin/python -m bench.import_bench [--rows N] [--database URL]

Without --database it makes a fresh SQLite file under instance/bench/; with a PostgreSQL
URL it makes that database afresh (dropped if it exists) and migrates it. The file is a
GB18030 CSV with Chinese headers, as a manager's spreadsheet saved on a Chinese system
would be. It runs the apply
twice: the first creates every factory, the second (the same file) changes nothing.
"""

from __future__ import annotations

import argparse
import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.sweep import RESULTS, ROOT, commit, database_version, machine, reset

LIMIT_SECONDS = 60.0


def make_file(rows: int) -> bytes:
    from tests.builders import credit_code

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "统一社会信用代码",
            "企业名称",
            "产业带",
            "品类",
            "地址",
            "纬度",
            "经度",
            "联系人",
            "联系电话",
        ]
    )
    for n in range(rows):
        writer.writerow(
            [
                credit_code(500_000 + n),
                f"永康市第{n}五金制品有限公司",
                "yongkang-hardware",
                "保温杯",
                f"永康市经济开发区{n}号",
                f"{28.9 + (n % 100) / 1000:.4f}",
                f"{120.0 + (n % 100) / 1000:.4f}",
                "王经理",
                f"+86 138 {n % 10000:04d} {n % 7777:04d}",
            ]
        )
    return buffer.getvalue().encode("gb18030")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", default="")
    options = parser.parse_args()
    url = options.database
    if not url:
        folder = ROOT / "instance" / "bench"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "import-bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        reset(url)  # a fresh database each run: the first import creates every factory

    from flask_migrate import upgrade

    from crm import create_app
    from crm.extensions import db
    from crm.services.growth import catalogue
    from crm.services.imports import runs as imports
    from crm.services.install import work
    from tests import builders

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade()
        catalogue.install_defaults()
        team = builders.team("Yongkang")
        builders.belt(team, code="yongkang-hardware")
        admin = builders.user("admin")
        db.session.commit()
        data = make_file(options.rows)
        lines = [
            f"# Import of {options.rows:,} factory rows",
            "",
            f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- commit: {commit()}",
            f"- machine: {machine()}",
            f"- database: {database_version(url)}",
            f"- the file: a GB18030 CSV with Chinese headers, {len(data) / 1e6:.1f} MB",
            "",
        ]
        print(f"{options.rows} rows, {len(data) / 1e6:.1f} MB, {db.engine.dialect.name}")
        for attempt in ("first import", "same file again"):
            now = datetime.now(UTC)
            started, cpu = time.perf_counter(), time.process_time()
            run = imports.upload(admin, "factories", "bench.csv", data, now)
            db.session.commit()
            staged = time.perf_counter()
            imports.check(admin, run, now, "en", inline=False)
            db.session.commit()
            assert len(work.drain("bench")) == 1
            checked = time.perf_counter()
            assert run.status == "checked", imports.report(run, limit=5)
            imports.confirm(admin, run, now, "en")
            db.session.commit()
            assert len(work.drain("bench")) == 1
            done = time.perf_counter()
            assert run.status == "done", (run.error, imports.report(run, limit=5))
            total = done - started
            line = (
                f"{attempt}: upload {staged - started:.1f} s, dry run {checked - staged:.1f} s, "
                f"apply {done - checked:.1f} s, total {total:.1f} s "
                f"(this process's CPU {time.process_time() - cpu:.1f} s) "
                f"({'within' if total < LIMIT_SECONDS else 'OVER'} {LIMIT_SECONDS:.0f} s); "
                f"{run.counts}"
            )
            print(line)
            lines.append(f"- {line}")
        db.session.remove()
        db.engine.dispose()
    RESULTS.mkdir(parents=True, exist_ok=True)
    backend = make_url(url).get_backend_name()
    path = RESULTS / f"import-{backend}-{datetime.now(UTC):%Y%m%d-%H%M}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
