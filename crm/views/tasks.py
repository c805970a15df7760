"""The checklist's task actions on the factory page: tick, reopen, waive, send back, video, add.

Each action is a plain form post: a success goes back to the factory page at the task's
row (eligibility, progress and the stage card are drawn afresh there); a refusal draws the
factory page again with status 422 and the message by the field of the refused form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, current_app, flash, g, get_template_attribute, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup

from crm import clock, scope
from crm.forms.tasks import AdHocTaskForm, SendBackForm, TaskActionForm, VideoForm, WaiveForm
from crm.models import Task
from crm.models.task import TASK_STATUSES
from crm.services.growth import tasks
from crm.values import ID_MAX
from crm.views import factories
from crm.views.errors import save_form
from crm.views.exactly_once import exactly_once
from crm.views.files import photo_response
from crm.views.kept import RowUrl, current_locale, kept_html, words_once
from crm.views.templating import task_status_label

bp = Blueprint("tasks", __name__)

# Each action's form. A form with fields is posted with a prefix naming its task, so that
# the many rows of one page never share an element id.
FORMS: dict[str, type[FlaskForm]] = {
    "complete": TaskActionForm,
    "reopen": TaskActionForm,
    "waive": WaiveForm,
    "send_back": SendBackForm,
    "video": VideoForm,
    "add": AdHocTaskForm,
}
PREFIXES = {
    "waive": "waive-{id}",
    "send_back": "send-back-{id}",
    "video": "video-{id}",
    "add": "new-task",
}
Message = Callable[[str], str]  # the flash message of a success, given the task's title


@dataclass
class Refusal:
    """The form the service (or the form's own checks) refused, kept for the page drawn next."""

    name: str
    task_id: int | None
    form: FlaskForm


# --- routes -----------------------------------------------------------------------------------


@bp.route("/tasks/<int:task_id>/complete", methods=["POST"])
@scope.allow("staff")
@exactly_once("task_tick")
def complete(task_id: int):
    task = _task(task_id)
    accepting = task.status == "submitted"
    return _act(
        "complete",
        task,
        lambda form: tasks.complete(current_user, task, clock.now()),
        lambda title: (
            _("Accepted: %(title)s.", title=title)
            if accepting
            else _("Done: %(title)s.", title=title)
        ),
    )


@bp.route("/tasks/<int:task_id>/reopen", methods=["POST"])
@scope.allow("staff")
@exactly_once("task_reopen")
def reopen(task_id: int):
    task = _task(task_id)
    return _act(
        "reopen",
        task,
        lambda form: tasks.reopen(current_user, task, clock.now()),
        lambda title: _("Reopened: %(title)s.", title=title),
    )


@bp.route("/tasks/<int:task_id>/waive", methods=["POST"])
@scope.allow("staff")
def waive(task_id: int):
    task = _task(task_id)
    return _act(
        "waive",
        task,
        lambda form: tasks.waive(current_user, task, form.waive_reason.data, clock.now()),
        lambda title: _("Waived: %(title)s.", title=title),
    )


@bp.route("/tasks/<int:task_id>/send-back", methods=["POST"])
@scope.allow("staff")
def send_back(task_id: int):
    task = _task(task_id)
    return _act(
        "send_back",
        task,
        lambda form: tasks.send_back(current_user, task, form.send_back_reason.data, clock.now()),
        lambda title: _("Sent back to the factory: %(title)s.", title=title),
    )


@bp.route("/tasks/<int:task_id>/video", methods=["POST"])
@scope.allow("staff")
@exactly_once("task_video")
def record_video(task_id: int):
    task = _task(task_id)
    return _act(
        "video",
        task,
        lambda form: tasks.record_video(
            current_user, task, form.shoot_on.data, form.video_url.data, clock.now()
        ),
        lambda title: _("Video shoot saved: %(title)s.", title=title),
    )


@bp.route("/factories/<int:factory_id>/tasks", methods=["POST"])
@scope.allow("staff")
def add(factory_id: int):
    factory = scope.get_factory(current_user, factory_id, clock.today())
    form = AdHocTaskForm(prefix=_prefix("add", None))
    saved = form.validate_on_submit() and save_form(
        form,
        lambda: tasks.add_ad_hoc(
            current_user, factory, form.title.data, form.due_on.data, clock.now()
        ),
    )
    if not saved:
        return _refused(Refusal("add", None, form), factory_id)
    return _back(saved, lambda title: _("Task added: %(title)s.", title=title))


# --- what the factory page's templates call ----------------------------------------------------


@dataclass(frozen=True)
class RowActions:
    """What every checklist row of a page shares: its words, translated once (those with
    "%(...)s" left in take each row's values in the template), and its actions' links, built
    once; every row's buttons submit the checklist's one form (factories/_checklist.html)."""

    complete_url: RowUrl
    reopen_url: RowUrl
    waive_url: RowUrl
    send_back_url: RowUrl
    video_url: RowUrl
    evidence_url: RowUrl

    @property
    def words(self) -> dict[str, str]:
        return words_once("task_rows", _row_words)


def _row_words() -> dict[str, str]:
    return {
        "required": _("Required"),
        "optional": _("Optional"),
        "due": _("due %(date)s"),
        "waived": _("Waived: %(reason)s"),
        "sent_back": _("Sent back: %(reason)s"),
        "shoot_date": _("Shoot date: %(date)s"),
        "video": _("Video:"),
        "evidence": _("Evidence from the factory"),
        "number": _("Number: %(number)s"),
        "view_photo": _("View the photo"),
        "accept": _("Accept"),
        "mark_done": _("Mark done"),
        "reopen": _("Reopen"),
        "shoot_and_link": _("Shoot date and link"),
        "save_video": _("Save video shoot"),
        "more": _("More"),
        "send_back": _("Send back"),
        "waive": _("Waive"),
        **{f"status_{status}": task_status_label(status) for status in TASK_STATUSES},
    }


@bp.app_template_global()
def task_row_actions() -> RowActions:
    if "task_row_actions" not in g:
        g.task_row_actions = RowActions(
            complete_url=RowUrl("tasks.complete", "task_id"),
            reopen_url=RowUrl("tasks.reopen", "task_id"),
            waive_url=RowUrl("tasks.waive", "task_id"),
            send_back_url=RowUrl("tasks.send_back", "task_id"),
            video_url=RowUrl("tasks.record_video", "task_id"),
            evidence_url=RowUrl("tasks.evidence_photo", "task_id"),
        )
    return g.task_row_actions


@bp.app_template_global()
def task_form(name: str, task_id: int | None = None, obj: Task | None = None) -> FlaskForm:
    """An action's form as a row draws it (filled from `obj`); a refused form keeps its input."""
    refusal = g.get("task_refusal")
    if refusal is not None and (refusal.name, refusal.task_id) == (name, task_id):
        return refusal.form
    return FORMS[name](formdata=None, obj=obj, prefix=_prefix(name, task_id))


@bp.app_template_global()
def task_refusal(task_id: int | None) -> Refusal | None:
    """The refusal of this request that concerns the task (None: the new-task form)."""
    refusal = g.get("task_refusal")
    return refusal if refusal is not None and refusal.task_id == task_id else None


@bp.app_template_global()
def task_field(
    name: str, field_name: str, task_id: int, obj: Task | None = None, css: str = ""
) -> Markup:
    """A row's field of an action's form, as the field macro draws it (label, hint, errors),
    filled from `obj` (a video shoot's date and link) when it holds a value.

    A form made and drawn per row cost its making and its translated label on every row: a
    blank field is drawn once a process and language for a marker id (its prefix names the
    task), and each row gets that markup with its own id in the marker's place. A refused row
    draws its own form, a filled one its own values."""
    refusal = task_refusal(task_id)
    if refusal is not None and refusal.name == name:
        return _draw_field(refusal.form[field_name], css)
    if obj is not None and getattr(obj, field_name) not in (None, ""):
        return _draw_field(task_form(name, task_id, obj)[field_name], css)
    blank = kept_html(
        ("task_field", name, field_name, css), lambda: _draw_blank(name, field_name, css)
    )
    return Markup(blank.replace(f"-{ID_MAX}-", f"-{int(task_id)}-"))


def _draw_blank(name: str, field_name: str, css: str) -> Markup:
    return _draw_field(FORMS[name](formdata=None, prefix=_prefix(name, ID_MAX))[field_name], css)


def _draw_field(field, css: str = "") -> Markup:
    return get_template_attribute("_macros/forms.html", "field")(field, **{"class": css})


@bp.app_template_global()
def may_waive(task: Task) -> bool:
    """Whether to offer Waive (and Reopen of a waived item): the service checks it again."""
    if task.required:
        return scope.may(current_user, "waive_required_task")
    return scope.may(current_user, "advance_task")


@bp.context_processor
def _factory_page_helpers() -> dict:
    """A refusal draws the factory page from here: it needs that blueprint's helpers too."""
    helpers: dict = {}
    for processor in current_app.template_context_processors.get(factories.bp.name, ()):
        helpers.update(processor())
    return helpers


# --- helpers of these routes -------------------------------------------------------------------


def _task(task_id: int) -> Task:
    return scope.get_task(current_user, task_id, clock.today())


def _prefix(name: str, task_id: int | None) -> str:
    return PREFIXES.get(name, "").format(id=task_id)


def _act(name: str, task: Task, save: Callable[[FlaskForm], Task], message: Message):
    task_id, factory_id = task.id, task.factory_id
    form = FORMS[name](prefix=_prefix(name, task_id))
    saved = form.validate_on_submit() and save_form(form, lambda: save(form))
    if not saved:
        return _refused(Refusal(name, task_id, form), factory_id)
    return _back(saved, message)


def _back(task: Task, message: Message):
    """Back to the factory page at the task's row, which now shows the change."""
    flash(message(task.title_for(current_locale())), "success")
    url = url_for("factories.show", factory_id=task.factory_id, _anchor=f"task-{task.id}")
    return redirect(url, code=303)


def _refused(refusal: Refusal, factory_id: int):
    """The factory page again, with the refused form open at its row and its first field focused."""
    g.task_refusal = refusal
    for field in refusal.form:
        if field.errors and getattr(field.widget, "input_type", None) != "hidden":
            field.render_kw = {**(field.render_kw or {}), "autofocus": True}
            break
    body, _status = factories.show(factory_id)
    return body, 422


@bp.route("/tasks/<int:task_id>/evidence/photo")
@scope.allow("staff")
def evidence_photo(task_id: int):
    """The photo a factory handed in, for the staff who check it."""
    task = scope.get_task(current_user, task_id, clock.today())
    return photo_response(task.evidence_file, f"evidence-{task.id}.jpg")
