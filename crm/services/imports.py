"""Imports of factories and figures: upload, map the headers, dry run, then apply in one go.

An upload is read (crm.services.import_formats) and staged in an ImportRun as cells, so
nothing the user sent is lost and the confirm step needs no re-upload. A dry run checks
every row and lists every problem with its line; it writes nothing but the run's report.
The apply checks the rows again (the stored records may have moved since) and writes all
of them in one transaction, or none. A large file is applied on a thread of its own,
which reports progress on the run row (crm.views.imports polls it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import update

from crm import clock, scope
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.models import ImportRun, User
from crm.models.imports import FILENAME_MAX, IMPORT_KINDS
from crm.services import audit, import_factories, import_formats, import_snapshots
from crm.services.import_rows import Plan, Progress

log = logging.getLogger(__name__)

PLANNERS = {"factories": import_factories.plan, "snapshots": import_snapshots.plan}
WRITERS = {"factories": import_factories.write, "snapshots": import_snapshots.write}
# A run with more rows than this is applied on a thread while the page shows its progress.
INLINE_ROWS = 2_000
EDITABLE = ("uploaded", "checked", "refused")


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
        mapping=import_formats.recognise(kind, sheet.headers),
        rows=sheet.rows,
        total_rows=len(sheet.rows),
        status="uploaded",
        created_at=now,
    )
    db.session.add(run)
    db.session.flush()
    return run


def set_mapping(actor: User, run: ImportRun, mapping: list[str]) -> ImportRun:
    """Which field each column holds ("" leaves it out); a field is read from one column only."""
    scope.require(actor, "import")
    _editable(run)
    names = {field.name for field in import_formats.fields_of(run.kind)}
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
        run.status, run.problems, run.counts = "uploaded", [], {}
    return run


def dry_run(actor: User, run: ImportRun, now: datetime) -> ImportRun:
    """Check every row and keep the report; nothing is imported."""
    scope.require(actor, "import")
    _editable(run)
    result = PLANNERS[run.kind](actor, run, now)
    _report(run, result)
    run.status = "refused" if result.problems else "checked"
    run.checked_at = now
    return run


def confirm(actor: User, run: ImportRun, now: datetime) -> ImportRun:
    """Claim the run for applying (a second click finds it claimed) after a clean dry run."""
    scope.require(actor, "import")
    if run.status != "checked":
        raise Conflict(_("Check the file first: only a dry run without problems can be imported."))
    claimed = db.session.execute(
        update(ImportRun)
        .where(ImportRun.id == run.id, ImportRun.status == "checked")
        .values(status="applying", phase="checking", processed_rows=0, applied_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise Conflict(_("This import has started already."))
    db.session.refresh(run)
    return run


def apply(actor: User, run: ImportRun, now: datetime, progress: Progress | None = None) -> Plan:
    """Check the rows again and write them all, or, if a problem has appeared since, none.

    `progress(phase, rows)` is told how far the check has come; a caller on a thread of its
    own commits it (the writes that follow are one transaction).
    """
    result = PLANNERS[run.kind](actor, run, now, progress)
    _report(run, result)
    if result.problems:
        run.status, run.phase, run.finished_at = "refused", "", now
        return result
    if progress:
        progress("writing", run.total_rows)
    WRITERS[run.kind](actor, result, now)
    run.status, run.phase, run.processed_rows, run.finished_at = "done", "", run.total_rows, now
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
    """Whether the request applies the run itself (a small file) rather than a thread."""
    return run.total_rows <= app.config.get("CRM_IMPORT_INLINE_ROWS", INLINE_ROWS)


def apply_in_background(app: Flask, run_id: int, actor_id: int, locale: str) -> threading.Thread:
    """Apply a confirmed (committed) run on a thread with its own app context and session."""
    thread = threading.Thread(
        target=_apply_thread, args=(app, run_id, actor_id, locale), name=f"import-{run_id}"
    )
    thread.daemon = True
    thread.start()
    return thread


def _apply_thread(app: Flask, run_id: int, actor_id: int, locale: str) -> None:
    with app.app_context(), force_locale(locale):
        run = db.session.get(ImportRun, run_id)
        actor = db.session.get(User, actor_id)
        if run is None or actor is None:
            return
        try:
            apply(actor, run, clock.now(), _committing_progress(run))
            db.session.commit()
        except Exception:
            log.exception("import run %s failed", run_id)
            db.session.rollback()
            _fail(run_id, _("The import stopped on an error; nothing was imported. Try again."))
        finally:
            db.session.remove()


def _committing_progress(run: ImportRun) -> Callable[[str, int], None]:
    """Progress for a thread: the check only reads, so each report commits the run row alone."""

    def report(phase: str, rows: int) -> None:
        run.phase, run.processed_rows = phase, rows
        db.session.commit()

    return report


def _fail(run_id: int, message: str) -> None:
    run = db.session.get(ImportRun, run_id)
    if run is not None:
        run.status, run.phase, run.error, run.finished_at = "failed", "", message, clock.now()
        db.session.commit()


def _editable(run: ImportRun) -> None:
    if run.status not in EDITABLE:
        raise Conflict(_("This import has been applied already: upload the file again to redo it."))


def _report(run: ImportRun, result: Plan) -> None:
    run.problems = sorted(result.problems, key=lambda problem: problem["line"])
    run.counts = result.counts
    run.error = ""


def mapping_choices(kind: str, locale: str) -> list[tuple[str, str]]:
    """The fields a column may be read into, in the reader's language, after "leave out"."""
    language = "zh" if locale.startswith("zh") else "en"
    fields = import_formats.fields_of(kind)
    return [("", _("Leave this column out")), *((f.name, f.label(language)) for f in fields)]


def template(kind: str, language: str) -> tuple[list[str], list[list]]:
    """An empty sheet with the import's headers in English or Chinese."""
    return import_formats.template_header(kind, language), []
