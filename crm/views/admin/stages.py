"""The admin's stage pages: each stage's names and cadence, and its checklist of task templates."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from crm import scope
from crm.extensions import db
from crm.forms.stages import (
    COMPARISON_LABELS,
    KIND_LABELS,
    StageForm,
    TemplateForm,
    amount,
)
from crm.models import StageDefinition, TaskTemplate
from crm.services.growth import checklists
from crm.views.admin import bp
from crm.views.errors import save_form
from crm.views.templating import current_locale


@bp.route("/stages")
@scope.allow("admin")
def stages():
    return _render("admin/stages.html", summaries=checklists.stage_summaries())


@bp.route("/stages/<int:stage_id>", methods=["GET", "POST"])
@scope.allow("admin")
def stage(stage_id: int):
    stage = checklists.get_stage(stage_id)
    form = StageForm(obj=stage)
    if form.validate_on_submit() and save_form(
        form, lambda: checklists.update_stage(current_user, stage, form.values())
    ):
        flash(_("Stage saved."), "success")
        return redirect(url_for("admin.stage", stage_id=stage.id), code=303)
    return _render(
        "admin/stage.html",
        stage=stage,
        form=form,
        templates=checklists.templates_of(stage),
        has_checklist=checklists.has_checklist(stage),
    )


@bp.route("/stages/<int:stage_id>/templates/new", methods=["GET", "POST"])
@scope.allow("admin")
def new_template(stage_id: int):
    stage = checklists.get_checklist_stage(stage_id)
    form = TemplateForm(metrics=checklists.metrics(), locale=current_locale())
    saved = form.validate_on_submit() and save_form(
        form, lambda: checklists.save_template(current_user, stage, None, form.values())
    )
    if saved:
        flash(_("Checklist item added: %(title)s", title=_title(saved)), "success")
        return _back_to(stage, saved)
    return _render("admin/template_form.html", stage=stage, template=None, form=form)


@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@scope.allow("admin")
def template(template_id: int):
    template = checklists.get_template(template_id)
    stage = template.stage
    form = TemplateForm(obj=template, metrics=checklists.metrics(), locale=current_locale())
    saved = form.validate_on_submit() and save_form(
        form, lambda: checklists.save_template(current_user, stage, template, form.values())
    )
    if saved:
        flash(_("Checklist item saved: %(title)s", title=_title(saved)), "success")
        return _back_to(stage, saved)
    return _render("admin/template_form.html", stage=stage, template=template, form=form)


@bp.route("/templates/<int:template_id>/retire", methods=["POST"])
@scope.allow("admin")
def retire_template(template_id: int):
    template = checklists.set_template_active(
        current_user, checklists.get_template(template_id), False
    )
    db.session.commit()
    flash(
        _(
            "Retired: %(title)s. Factories entering the stage no longer get it; "
            "the tasks it made stay.",
            title=_title(template),
        ),
        "success",
    )
    return _back_to(template.stage, template)


@bp.route("/templates/<int:template_id>/reactivate", methods=["POST"])
@scope.allow("admin")
def reactivate_template(template_id: int):
    template = checklists.set_template_active(
        current_user, checklists.get_template(template_id), True
    )
    db.session.commit()
    flash(_("Back in the checklist: %(title)s", title=_title(template)), "success")
    return _back_to(template.stage, template)


# --- helpers of these pages ------------------------------------------------------------------


def _render(template_name: str, **context: Any) -> tuple[str, int]:
    status = 422 if request.method == "POST" else 200
    return render_template(
        template_name,
        kind_label=lambda kind: KIND_LABELS.get(kind, kind),
        target_text=_target_text,
        failed=status == 422,
        **context,
    ), status


def _back_to(stage: StageDefinition, template: TaskTemplate) -> Response:
    url = url_for("admin.stage", stage_id=stage.id, _anchor=f"template-{template.id}")
    return redirect(url, code=303)


def _title(template: TaskTemplate) -> str:
    return template.title_zh if current_locale().startswith("zh") else template.title_en


def _target_text(template: TaskTemplate) -> str:
    """ "Orders shipped within 72 hours: at least 90 %" for a measured item, else ""."""
    if template.kind != "measured" or template.metric is None:
        return ""
    return _(
        "%(metric)s: %(comparison)s %(amount)s",
        metric=template.metric.name_for(current_locale()),
        comparison=COMPARISON_LABELS.get(template.comparison or "", ""),
        amount=amount(template.target_value, template.metric.unit),
    )
