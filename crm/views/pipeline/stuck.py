"""Stuck factories: the four lists, their export, and the actions on a row (plan a visit for
the factory's rep, reassign the factory once the manager confirms, promote an eligible one)."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, export, scope
from crm.errors import DomainError, Invalid
from crm.extensions import db
from crm.forms.pipeline import PromoteForm, ReassignForm, ScheduleForm
from crm.models.stage import next_stage
from crm.services.factories import reassign
from crm.services.field import followups
from crm.services.growth import promotions
from crm.services.pipeline import board as board_service
from crm.services.pipeline import stuck as stuck_service
from crm.values import id_or_none, page_number
from crm.views import downloads
from crm.views.pipeline import bp
from crm.views.security import local_path
from crm.views.templating import belt_name, column_label, stage_label


def kind_labels() -> list[tuple[str, str]]:
    return [
        ("stale", _("Stale")),
        ("overdue", _("Overdue follow-up")),
        ("long", _("Long in stage")),
        ("eligible", _("Eligible, not requested")),
    ]


def _intro(kind: str) -> str:
    return {
        "stale": _("No visit for twice the stage's cadence; the longest without a visit first."),
        "overdue": _("A follow-up is past due; the most overdue first."),
        "long": _(
            "In the same stage for longer than the stage's expected time (paused days left "
            "out); the farthest past it first."
        ),
        "eligible": _("Every required item is met, but nobody has asked for the promotion."),
    }[kind]


def stuck_filters() -> stuck_service.StuckFilters:
    args = request.args
    kind = args.get("kind", "stale")
    belt, rep = args.get("belt", ""), args.get("rep", "")
    return stuck_service.StuckFilters(
        kind=kind if kind in stuck_service.KINDS else "stale",
        belt=belt if id_or_none(belt) else "",
        rep=rep if id_or_none(rep) or rep == "unowned" else "",
        page=page_number(args.get("page")),
    )


@bp.route("/stuck")
@scope.allow("manage")
def stuck():
    listing = stuck_service.stuck(current_user, stuck_filters(), clock.now())
    return render_template(
        "pipeline/stuck.html",
        listing=listing,
        kinds=kind_labels(),
        intro=_intro(listing.filters.kind),
        belts=board_service.belt_choices(current_user),
        reps=board_service.rep_choices(current_user),
        next_stage=next_stage,
    )


@bp.route("/stuck/export")
@scope.allow("manage")
def export_stuck():
    filters = stuck_filters()
    rows = stuck_service.stuck_rows(current_user, filters, clock.now())
    header = [
        _("List"),
        _("Id"),
        _("Factory"),
        _("Belt id"),
        _("Belt"),
        _("Rep id"),
        _("Rep"),
        _("Column"),
        _("Waiting since"),
        _("Days"),
        _("Limit in days"),
    ]
    label = dict(kind_labels())[filters.kind]
    cells = (
        [
            label,
            row.factory.id,
            row.factory.name,
            row.factory.belt_id,
            belt_name(row.factory.belt),
            row.factory.owner_id,
            row.factory.owner.name if row.factory.owner else "",
            column_label(board_service.column_of(row.factory)),
            clock.local(row.since).strftime("%Y-%m-%d") if row.since else "",
            row.days,
            row.limit,
        ]
        for row in rows
    )
    name = f"pipeline-stuck-{filters.kind}-{clock.today():%Y-%m-%d}"
    return export.response(downloads.chosen_format(request.args), name, header, cells)


def _acting_on(factory_id: int, form_class, **form_arguments):
    """A stuck list's row action: the moment, the factory in scope, its form and where to go
    back to (the list the button was on)."""
    moment = clock.now()
    factory = scope.get_factory(current_user, factory_id, clock.today(moment))
    form = form_class(**form_arguments)
    back = local_path(form.next.data, under="/pipeline/") or url_for("pipeline.stuck")
    return moment, factory, form, back


def _refused(error: DomainError, back: str):
    db.session.rollback()
    flash(error.message, "danger")
    return redirect(back, code=303)


@bp.route("/factories/<int:factory_id>/schedule", methods=["POST"])
@scope.allow("manage")
def schedule_visit(factory_id: int):
    """A follow-up for the factory's rep in some days, from a button of the stuck list."""
    moment, factory, form, back = _acting_on(factory_id, ScheduleForm)
    if not form.validate_on_submit():
        flash(_("Pick when the visit should be."), "danger")
        return redirect(back, code=303)
    day = clock.today(moment) + timedelta(days=form.days.data)
    try:
        follow_up = followups.schedule(
            current_user, factory, day, _("Planned from the stuck list"), moment
        )
    except DomainError as error:
        return _refused(error, back)
    db.session.commit()
    flash(
        _(
            "Visit planned for %(name)s on %(day)s, for %(rep)s.",
            name=factory.name,
            day=clock.local(follow_up.due_at).strftime("%Y-%m-%d"),
            rep=follow_up.assignee.name if follow_up.assignee else "",
        ),
        "success",
    )
    return redirect(back, code=303)


@bp.route("/factories/<int:factory_id>/reassign", methods=["POST"])
@scope.allow("manage")
def reassign_factory(factory_id: int):
    moment, factory, form, back = _acting_on(factory_id, ReassignForm, rep_choices=[])
    try:
        if not form.validate_on_submit():
            raise Invalid(_("Choose a rep of your teams."))
        rep = reassign.rep_in_scope(current_user, form.to_rep.data)
        if form.confirmed.data != "yes":
            # Nothing changes before the manager has seen who gets the factory and said so.
            return render_template(
                "pipeline/stuck_reassign.html", factory=factory, rep=rep, form=form, back=back
            )
        reassign.reassign(current_user, [factory], rep, moment)
    except DomainError as error:
        return _refused(error, back)
    db.session.commit()
    flash(_("%(name)s is %(rep)s's now.", name=factory.name, rep=rep.name), "success")
    return redirect(back, code=303)


@bp.route("/factories/<int:factory_id>/promote", methods=["POST"])
@scope.allow("manage")
def promote_eligible(factory_id: int):
    """The manager promotes an eligible factory one stage up at once, from the stuck list."""
    moment, factory, form, back = _acting_on(factory_id, PromoteForm)
    try:
        if not form.validate_on_submit():
            raise Invalid(_("The form expired; send it again."))
        change = promotions.promote_one_stage(current_user, factory, moment)
    except DomainError as error:
        return _refused(error, back)
    db.session.commit()
    flash(
        _("%(name)s is in %(stage)s now.", name=factory.name, stage=stage_label(change.to_stage)),
        "success",
    )
    return redirect(back, code=303)
