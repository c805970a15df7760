"""Imports of factories and figures: upload, map the headers, dry run, then apply in one go.

An upload is read (crm.services.imports.import_formats) and its rows staged, a batch at a time, as
ImportRow records (cells as sent, up to the header's last column), so nothing the user sent
is lost and the confirm step needs no re-upload. A dry run checks every staged row and writes
each row's problems on it; the report reads them back by line. The apply checks the rows again
(the stored records may have moved since) and writes all of them in one transaction, or none.

Long work is a work request (crm.services.install.work, DESIGN.md "Long work"): the dry run of a
large file ("import_check") and every apply ("import_apply") are done by the scheduler
process, which reports progress on the request (crm.views.imports polls it). A small file
(INLINE_ROWS or fewer) is checked in the page's own request, and its apply request is
claimed and done there too, so that the page answers at once; the same handler runs.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import bindparam, insert, select, update

from crm import clock, scope
from crm.errors import Conflict, Invalid, NotFound
from crm.extensions import db
from crm.models import ImportRow, ImportRun, User, WorkRequest
from crm.models.imports import FILENAME_MAX, IMPORT_KINDS
from crm.services.imports import (
    import_columns,
    import_factories,
    import_formats,
    import_snapshots,
)
from crm.services.imports.import_rows import CHUNK, Plan, Progress, chunks
from crm.services.install import audit, work

log = logging.getLogger(__name__)

PLANNERS = {"factories": import_factories.plan, "snapshots": import_snapshots.plan}
WRITERS = {"factories": import_factories.write, "snapshots": import_snapshots.write}
# A run with more rows than this is checked by the scheduler process, and the page shows
# its progress; a smaller one is checked and applied within the page's request.
INLINE_ROWS = 2_000
EDITABLE = ("uploaded", "checked", "refused")
# The work a run is waiting for or doing (the page's progress bar).
BUSY = ("checking", "applying")
REPORT_LIMIT = 1_000


def upload(actor: User, kind: str, filename: str, data: bytes, now: datetime) -> ImportRun:
    """Read the file and stage its rows; the headers it names are mapped already."""
    scope.require(actor, "import")
    if kind not in IMPORT_KINDS:
        message = _("Choose what the file holds: factories or monthly figures.")
        raise Invalid(message, fields={"kind": message})
    sheet = import_formats.read(data, filename)
    run = ImportRun(
        kind=kind,
        created_by_id=actor.id,
        filename=(filename or "")[-FILENAME_MAX:],
        file_format=sheet.file_format,
        encoding=sheet.encoding,
        delimiter=sheet.delimiter,
        headers=sheet.headers,
        mapping=import_columns.recognise(kind, sheet.headers),
        total_rows=len(sheet.rows),
        status="uploaded",
        created_at=now,
    )
    db.session.add(run)
    db.session.flush()
    # The table's own insert, a batch at a time: the ORM's costs more per row than the row.
    for part in chunks(sheet.rows):
        db.session.execute(
            insert(ImportRow.__table__),
            [{"run_id": run.id, "line": row[0], "cells": row[1:]} for row in part],
        )
    return run


def rows_of(run: ImportRun, limit: int | None = None) -> list[list]:
    """The staged rows as [line, cell, cell, ...], in line order."""
    statement = (
        select(ImportRow.line, ImportRow.cells)
        .where(ImportRow.run_id == run.id)
        .order_by(ImportRow.line)
        .limit(limit)
    )
    return [[line, *cells] for line, cells in db.session.execute(statement)]


def set_mapping(actor: User, run: ImportRun, mapping: list[str]) -> ImportRun:
    """Which field each column holds ("" leaves it out); a field is read from one column only."""
    scope.require(actor, "import")
    _editable(run)
    names = {field.name for field in import_columns.fields_of(run.kind)}
    if len(mapping) != len(run.headers) or any(name and name not in names for name in mapping):
        raise Invalid(_("Choose a field from the list for each column."))
    errors: dict[str, str] = {}
    first: dict[str, int] = {}
    for index, name in enumerate(mapping):
        if name and name in first:
            errors[f"column_{index}"] = _(
                "Column %(column)s holds this field already: choose another, or leave one out.",
                column=run.headers[first[name]] or first[name] + 1,
            )
        first.setdefault(name, index)
    if errors:
        raise Invalid(next(iter(errors.values())), fields=errors)
    if mapping != run.mapping:
        run.mapping = list(mapping)
        run.status, run.problems, run.problem_count, run.counts = "uploaded", [], 0, {}
    return run


def check(actor: User, run: ImportRun, now: datetime, locale: str, inline: bool) -> ImportRun:
    """Dry-run the file: here when `inline` (a small file), else as a work request."""
    scope.require(actor, "import")
    _editable(run)
    if inline:
        return dry_run(actor, run, now)
    request = work.request("import_check", {"run_id": run.id, "locale": locale}, actor.id, now)
    run.status, run.work_request_id, run.error = "checking", request.id, ""
    db.session.flush()
    return run


def dry_run(
    actor: User, run: ImportRun, now: datetime, progress: Progress | None = None
) -> ImportRun:
    """Check every staged row and keep each row's problems; nothing is imported."""
    scope.require(actor, "import")
    if run.status not in (*EDITABLE, "checking"):
        _editable(run)
    db.session.execute(
        update(ImportRow)
        .where(ImportRow.run_id == run.id, ImportRow.problems.is_not(None))
        .values(problems=None)
        .execution_options(synchronize_session=False)
    )
    result = PLANNERS[run.kind](actor, run, now, progress)
    _report(run, result)
    run.status = "refused" if result.problems else "checked"
    run.checked_at = now
    db.session.flush()
    return run


def confirm(actor: User, run: ImportRun, now: datetime, locale: str = "en") -> WorkRequest:
    """Ask for the apply (a second click finds the run claimed) after a clean dry run."""
    scope.require(actor, "import")
    if run.status != "checked":
        raise Conflict(_("Check the file first: only a dry run without problems can be imported."))
    claimed = db.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run.id, ImportRun.status == "checked")
        .values(status="applying", applied_at=now, error="")
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise Conflict(_("This import has started already."))
    request = work.request("import_apply", {"run_id": run.id, "locale": locale}, actor.id, now)
    run.work_request_id = request.id
    db.session.flush()
    db.session.refresh(run)
    return request


def apply(actor: User, run: ImportRun, now: datetime, progress: Progress | None = None) -> Plan:
    """Check the rows again and write them all, or, if a problem has appeared since, none.

    `progress(phase, rows)` is told how far the check has come; the work request's handler
    commits each report (the check only reads; the writes that follow are one transaction).
    """
    result = PLANNERS[run.kind](actor, run, now, progress)
    _report(run, result)
    if result.problems:
        run.status, run.finished_at = "refused", now
        return result
    if progress:
        progress("writing", run.total_rows)
    WRITERS[run.kind](actor, result, now)
    run.status, run.finished_at = "done", now
    audit.record(
        actor,
        "import_run",
        run.id,
        f"import_{run.kind}",
        {name: (None, count) for name, count in result.counts.items()},
    )
    db.session.flush()
    return result


def inline(run: ImportRun, app: Flask) -> bool:
    """Whether the page's request does the run's work itself (a small file)."""
    return run.total_rows <= app.config.get("CRM_IMPORT_INLINE_ROWS", INLINE_ROWS)


def apply_here(request: WorkRequest, holder: str = "web") -> WorkRequest | None:
    """Do a small run's apply request in the page's request, unless a scheduler took it first."""
    claimed = work.claim(request.id, holder, clock.now())
    return work.run(claimed) if claimed is not None else None


def progress_of(run: ImportRun) -> dict:
    """How far the run's check or apply has come, for the page and its progress endpoint."""
    request = run.work_request
    if request is not None:
        db.session.refresh(request)
    busy = run.status in BUSY
    waiting = busy and (request is None or request.status == "pending")
    processed = request.progress_done if request is not None else 0
    if run.status == "done":
        processed = run.total_rows
    if run.status == "done" or not run.total_rows:
        percent = 100 if run.status == "done" else 0
    else:
        percent = min(99, processed * 100 // run.total_rows)
    return {
        "status": run.status,
        "phase": (request.phase if request is not None and busy else ""),
        "processed": processed,
        "total": run.total_rows,
        "percent": percent,
        "waiting": waiting,
        "done": not busy,
    }


def report(run: ImportRun, limit: int | None = REPORT_LIMIT) -> list[dict]:
    """The dry run's problems in line order: the file's own, then each staged row's."""
    found = list(run.problems)
    statement = (
        select(ImportRow.line, ImportRow.problems)
        .where(ImportRow.run_id == run.id, ImportRow.problems.is_not(None))
        .order_by(ImportRow.line)
    )
    for line, problems in db.session.execute(statement):
        found += [{"line": line, **problem} for problem in problems]
        if limit is not None and len(found) >= limit:
            break
    return found[:limit] if limit is not None else found


def left_out(run: ImportRun) -> list[str]:
    """The columns that no field is read from, by header (or number): the report names them,
    so that a column the import does not recognise is never dropped without a word."""
    return [
        header or _("Column %(number)d", number=index + 1)
        for index, (header, name) in enumerate(zip(run.headers, run.mapping, strict=False))
        if not name
    ]


# --- the work requests ---------------------------------------------------------------------


def _subjects(request: WorkRequest) -> tuple[ImportRun, User]:
    run = db.session.get(ImportRun, request.arguments.get("run_id"))
    actor = db.session.get(User, request.requested_by_id) if request.requested_by_id else None
    if run is None or actor is None:
        raise NotFound(_("This import or the person who asked for it no longer exists."))
    return run, actor


def _reporter(request: WorkRequest, run: ImportRun) -> Progress:
    def progress(phase: str, rows: int) -> None:
        work.report(request, rows, run.total_rows, phase)

    return progress


def _check_work(request: WorkRequest, runner=None) -> dict:
    run, actor = _subjects(request)
    if run.status != "checking":
        raise Conflict(_("This import is not waiting for a check."))
    with force_locale(request.arguments.get("locale") or "en"):
        work.report(request, 0, run.total_rows, "checking")
        dry_run(actor, run, clock.now(), _reporter(request, run))
    return {"run_id": run.id, "status": run.status, "problems": run.problem_count, **run.counts}


def _apply_work(request: WorkRequest, runner=None) -> dict:
    run, actor = _subjects(request)
    if run.status != "applying":
        raise Conflict(_("This import is not waiting to be applied."))
    with force_locale(request.arguments.get("locale") or "en"):
        work.report(request, 0, run.total_rows, "checking")
        apply(actor, run, clock.now(), _reporter(request, run))
    return {"run_id": run.id, "status": run.status, **run.counts}


def _check_failed(request: WorkRequest, message: str) -> None:
    run = db.session.get(ImportRun, request.arguments.get("run_id"))
    if run is not None and run.status == "checking":
        run.status, run.error = "uploaded", message


def _apply_failed(request: WorkRequest, message: str) -> None:
    run = db.session.get(ImportRun, request.arguments.get("run_id"))
    if run is not None and run.status == "applying":
        run.status, run.error, run.finished_at = "failed", message, clock.now()


work.handles("import_check", on_failure=_check_failed)(_check_work)
work.handles("import_apply", on_failure=_apply_failed)(_apply_work)


def _editable(run: ImportRun) -> None:
    if run.status == "checking":
        raise Conflict(_("This file is being checked: wait for the report."))
    if run.status not in EDITABLE:
        raise Conflict(_("This import has been applied already: upload the file again to redo it."))


def _report(run: ImportRun, result: Plan) -> None:
    """Each row's problems on its staged row, the file's own on the run, and the counts."""
    by_line: dict[int, list[dict]] = {}
    for problem in [*result.problems, *result.warnings]:
        by_line.setdefault(problem["line"], []).append(
            {key: value for key, value in problem.items() if key != "line"}
        )
    staged = [
        {"b_line": line, "b_problems": problems} for line, problems in by_line.items() if line > 1
    ]
    statement = (
        update(ImportRow.__table__)
        .where(ImportRow.run_id == run.id, ImportRow.line == bindparam("b_line"))
        .values(problems=bindparam("b_problems"))
    )
    for part in chunks(staged, CHUNK):
        db.session.execute(statement, part)
    run.problems = [{"line": 1, **problem} for problem in by_line.get(1, [])]
    run.problem_count = len(result.problems)
    run.counts = result.counts
    run.error = ""


def mapping_choices(kind: str, locale: str) -> list[tuple[str, str]]:
    """The fields a column may be read into, in the reader's language, after "leave out"."""
    language = "zh" if locale.startswith("zh") else "en"
    fields = import_columns.fields_of(kind)
    return [("", _("Leave this column out")), *((f.name, f.label(language)) for f in fields)]


def template(kind: str, language: str) -> tuple[list[str], list[list]]:
    """An empty sheet with the import's headers in English or Chinese."""
    return import_columns.template_header(kind, language), []
