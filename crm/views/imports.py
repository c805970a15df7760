"""The import pages: upload, map the headers, dry-run report, confirm, progress; the templates."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import defer

from crm import clock, export, scope
from crm.errors import Invalid
from crm.extensions import db
from crm.forms.imports import ConfirmForm, UploadForm, mapping_form, mapping_of
from crm.models import ImportRun
from crm.models.imports import IMPORT_KINDS
from crm.services.imports import runs as imports
from crm.services.imports.import_rows import cell_text
from crm.views.errors import save_form
from crm.views.templating import current_locale

bp = Blueprint("imports", __name__, url_prefix="/imports")
RECENT_RUNS = 20


@bp.context_processor
def _helpers() -> dict:
    return {"kind_label": kind_label, "status_word": status_word}


def kind_label(kind: str) -> str:
    return {"factories": _("Factories"), "snapshots": _("Monthly figures")}.get(kind, kind)


def status_word(status: str) -> str:
    return {
        "uploaded": _("Not checked yet"),
        "checking": _("Checking"),
        "checked": _("Checked: ready to import"),
        "refused": _("Has problems"),
        "applying": _("Importing"),
        "done": _("Imported"),
        "failed": _("Failed"),
    }.get(status, status)


@bp.route("/", methods=["GET", "POST"])
@scope.allow("manage")
def index():
    form = UploadForm()
    if request.method == "GET":
        return _index_page(form)
    upload = request.files.get(form.file.name)
    if form.validate_on_submit() and not (upload and upload.filename):
        form.file.errors = [_("Choose the spreadsheet to upload.")]
    elif form.errors == {}:
        run = save_form(
            form,
            lambda: imports.upload(
                current_user, form.kind.data, upload.filename, upload.read(), clock.now()
            ),
        )
        if run:
            return redirect(url_for("imports.show", run_id=run.id), code=303)
    return _index_page(form, status=422)


@bp.route("/template")
@scope.allow("manage")
def template():
    """An empty sheet with the import's columns: ?kind=factories|snapshots&language=en|zh."""
    kind = request.args.get("kind", "factories")
    language = "zh" if request.args.get("language", "en") == "zh" else "en"
    if kind not in IMPORT_KINDS:
        raise Invalid(_("Choose factories or monthly figures."), fields={"kind": kind})
    header, rows = imports.template(kind, language)
    file_format = "xlsx" if request.args.get("format") == "xlsx" else "csv"
    name = f"{'工厂导入模板' if language == 'zh' else 'factory-import-template'}"
    if kind == "snapshots":
        name = "数据导入模板" if language == "zh" else "figures-import-template"
    return export.response(file_format, name, header, rows)


@bp.route("/<int:run_id>")
@scope.allow("manage")
def show(run_id: int):
    return _run_page(_run(run_id))


@bp.route("/<int:run_id>/check", methods=["POST"])
@scope.allow("manage")
def check(run_id: int):
    """Save the header mapping and dry-run the file; nothing is imported."""
    run = _run(run_id)
    form = _mapping_form(run, formdata=request.form)
    checked = form.validate_on_submit() and save_form(
        form,
        lambda: imports.check(
            current_user,
            imports.set_mapping(current_user, run, mapping_of(form, len(run.headers))),
            clock.now(),
            current_locale(),
            imports.inline(run, current_app),
        ),
    )
    if not checked:
        return _run_page(run, form=form, status=422)
    return redirect(url_for("imports.show", run_id=run.id, _anchor="report"), code=303)


@bp.route("/<int:run_id>/confirm", methods=["POST"])
@scope.allow("manage")
def confirm(run_id: int):
    """Import every row of a clean dry run: a work request, done here for a small file."""
    run = _run(run_id)
    if not ConfirmForm().validate_on_submit():
        return _run_page(run, status=400)
    request_ = imports.confirm(current_user, run, clock.now(), current_locale())
    db.session.commit()
    if imports.inline(run, current_app):
        imports.apply_here(request_)
    return redirect(url_for("imports.show", run_id=run.id), code=303)


@bp.route("/<int:run_id>/progress")
@scope.allow("manage")
def progress(run_id: int):
    """How far a run's check or apply has come (its work request), for the progress bar."""
    run = _run(run_id)
    db.session.refresh(run)
    response = jsonify(imports.progress_of(run))
    response.headers["Cache-Control"] = "no-store"
    return response


def _run(run_id: int) -> ImportRun:
    return scope.get_import_run(current_user, run_id)


def _index_page(form: UploadForm, status: int = 200):
    # The staged cells can be megabytes a run: the list reads only what it shows.
    runs = db.session.scalars(
        scope.import_runs(current_user)
        .options(defer(ImportRun.problems))
        .order_by(ImportRun.created_at.desc(), ImportRun.id.desc())
        .limit(RECENT_RUNS)
    ).all()
    return render_template("imports/index.html", form=form, runs=runs), status


def _mapping_form(run: ImportRun, formdata=None):
    samples = _samples(run)
    choices = imports.mapping_choices(run.kind, current_locale())
    return mapping_form(run.headers, samples, run.mapping, choices, formdata=formdata)


def _samples(run: ImportRun) -> list[str]:
    """The first filled value of each column, to help the reader tell what it holds."""
    samples = [""] * len(run.headers)
    for row in imports.rows_of(run, limit=50):
        for index, cell in enumerate(row[1 : len(run.headers) + 1]):
            if not samples[index] and cell_text(cell):
                samples[index] = _("For example: %(value)s", value=cell_text(cell)[:60])
    return samples


def _run_page(run: ImportRun, form=None, status: int = 200):
    return (
        render_template(
            "imports/run.html",
            run=run,
            progress=imports.progress_of(run),
            problems=imports.report(run) if run.status in ("refused", "checked") else [],
            left_out=imports.left_out(run),
            form=form or _mapping_form(run),
            confirm_form=ConfirmForm(),
            editable=run.status in imports.EDITABLE,
        ),
        status,
    )
