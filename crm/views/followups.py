"""Follow-up actions from the factory page and from Today: schedule, move, complete, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from crm import clock, scope
from crm.errors import Conflict
from crm.extensions import db
from crm.forms.followups import (
    MAX_DAYS_AHEAD,
    QUICK_PICKS,
    FollowUpActionForm,
    RescheduleForm,
    ScheduleForm,
)
from crm.models import Factory, FollowUp
from crm.models.followup import REASON_MAX
from crm.services.field import followups
from crm.views.errors import save_form
from crm.views.exactly_once import exactly_once
from crm.views.kept import RowFragment, RowUrl
from crm.views.security import local_path
from crm.views.templating import format_due

bp = Blueprint("followups", __name__)


@bp.app_template_global()
def follow_up_reason_max() -> int:
    """The reason's length limit, for the forms that Today and the factory page draw."""
    return REASON_MAX


@bp.app_template_global()
def follow_up_quick_picks() -> tuple[int, ...]:
    """The one-tap offsets, in days, that the schedule forms offer."""
    return QUICK_PICKS


@dataclass(frozen=True)
class RowActions:
    """What the Done, Move and Cancel of every follow-up row on a page share: their words,
    translated once, and their links, built once (followups/_macros.html)."""

    check_in: str
    done: str
    move: str
    new_date: str
    cancel: str
    cancel_question: str  # "%(factory)s" left in, for each row's factory
    follow_up: str  # a row's reason when it has none
    complete_url: RowUrl
    reschedule_url: RowUrl
    cancel_url: RowUrl


@bp.app_template_global()
def follow_up_row_actions() -> RowActions:
    return RowActions(
        check_in=_("Check in"),
        done=_("Done"),
        move=_("Move"),
        new_date=_("New date"),
        cancel=_("Cancel follow-up"),
        cancel_question=_("Cancel this follow-up at %(factory)s?"),
        follow_up=_("Follow-up"),
        complete_url=RowUrl("followups.complete", "follow_up_id"),
        reschedule_url=RowUrl("followups.reschedule", "follow_up_id"),
        cancel_url=RowUrl("followups.cancel", "follow_up_id"),
    )


@bp.app_template_global()
def follow_up_row_fragment(min_day: str) -> RowFragment:
    """A row's Check in, Done, Move and Cancel on Today: the same for every row but for the
    follow-up's and its factory's ids, rendered once per process, language and day."""
    return RowFragment(
        "followups/_row_actions.html",
        "item",
        lambda: {"min_day": min_day},
        (min_day,),
        also="factory_id",
    )


@bp.route("/factories/<int:factory_id>/follow-ups", methods=["POST"])
@scope.allow("staff")
def schedule(factory_id: int):
    factory = scope.get_factory(current_user, factory_id, clock.today())
    form = ScheduleForm()
    day = _picked_day(form)
    saved = form.validate_on_submit() and save_form(
        form,
        lambda: followups.schedule(current_user, factory, day, form.reason.data or "", clock.now()),
    )
    if not saved:
        return _refused(form, factory=factory)
    set_for = _set_for(saved, day)
    flash(_("Follow-up set for %(when)s: %(factory)s. %(note)s", **set_for).strip(), "success")
    return _back(form, factory)


@bp.route("/follow-ups/<int:follow_up_id>/reschedule", methods=["POST"])
@scope.allow("staff")
@exactly_once("follow_up_move")
def reschedule(follow_up_id: int):
    follow_up = _follow_up(follow_up_id)
    form = RescheduleForm(formdata=_row_fields(follow_up_id))
    try:
        saved = form.validate_on_submit() and save_form(
            form,
            lambda: followups.reschedule(current_user, follow_up, form.due_on.data, clock.now()),
        )
    except Conflict as error:
        return _unchanged(form, follow_up, error)
    if not saved:
        return _refused(form, factory=follow_up.factory, follow_up=follow_up)
    moved = _set_for(saved, form.due_on.data)
    flash(_("Follow-up moved to %(when)s: %(factory)s. %(note)s", **moved).strip(), "success")
    return _back(form, follow_up.factory)


@bp.route("/follow-ups/<int:follow_up_id>/complete", methods=["POST"])
@scope.allow("staff")
@exactly_once("follow_up_done")
def complete(follow_up_id: int):
    follow_up = _follow_up(follow_up_id)
    form = FollowUpActionForm()
    try:
        done = form.validate_on_submit() and save_form(
            form, lambda: followups.complete(current_user, follow_up, clock.now())
        )
    except Conflict as error:
        return _unchanged(form, follow_up, error)
    if not done:
        return _refused(form, factory=follow_up.factory, follow_up=follow_up)
    flash(_("Follow-up done: %(factory)s.", factory=follow_up.factory.name), "success")
    return _back(form, follow_up.factory)


@bp.route("/follow-ups/<int:follow_up_id>/cancel", methods=["POST"])
@scope.allow("staff")
@exactly_once("follow_up_cancel")
def cancel(follow_up_id: int):
    follow_up = _follow_up(follow_up_id)
    form = FollowUpActionForm()
    try:
        cancelled = form.validate_on_submit() and save_form(
            form, lambda: followups.cancel(current_user, follow_up, clock.now())
        )
    except Conflict as error:
        return _unchanged(form, follow_up, error)
    if not cancelled:
        return _refused(form, factory=follow_up.factory, follow_up=follow_up)
    flash(_("Follow-up cancelled: %(factory)s.", factory=follow_up.factory.name), "success")
    return _back(form, follow_up.factory)


# --- helpers of these views -----------------------------------------------------------------


def _follow_up(follow_up_id: int) -> FollowUp:
    return scope.get_follow_up(current_user, follow_up_id, clock.today())


def _row_fields(follow_up_id: int) -> MultiDict:
    """The posted fields with the row's own date (`due_on-<id>`) as `due_on`: on a page whose
    one form serves every row, each row's date field carries its follow-up's id."""
    fields = request.form.copy()
    own = fields.get(f"due_on-{follow_up_id}")
    if own is not None:
        fields["due_on"] = own
    return fields


def _picked_day(form: ScheduleForm) -> date | None:
    """The quick pick that was tapped, counted from today; otherwise the date typed."""
    if form.in_days.data is not None and 0 <= form.in_days.data <= MAX_DAYS_AHEAD:
        return followups.in_days(clock.today(), form.in_days.data)
    return form.due_on.data


def _set_for(follow_up: FollowUp, asked: date | None) -> dict[str, str]:
    """What the flash after a date was set names: when it is due, and why not on the day asked."""
    moved = asked is not None and clock.local(follow_up.due_at).date() != asked
    note = _("The day was moved past a holiday or the factory's closure.") if moved else ""
    return {"when": format_due(follow_up.due_at), "factory": follow_up.factory.name, "note": note}


def _back(form: FollowUpActionForm, factory: Factory):
    return redirect(local_path(form.next.data) or _factory_url(factory), code=303)


def _factory_url(factory: Factory) -> str:
    return url_for("factories.show", factory_id=factory.id, _anchor="reach")


def _refused(form: FollowUpActionForm, *, factory: Factory, follow_up: FollowUp | None = None):
    """The form again with the service's messages by its fields; nothing was changed."""
    db.session.rollback()
    return (
        render_template(
            "followups/form.html",
            form=form,
            factory=factory,
            follow_up=follow_up,
            back=local_path(form.next.data) or _factory_url(factory),
            today=clock.today(),
        ),
        422,
    )


def _unchanged(form: FollowUpActionForm, follow_up: FollowUp, error: Conflict):
    """A double tap, or another device got there first: say so where the person came from."""
    db.session.rollback()
    flash(error.message, "warning")
    return _back(form, follow_up.factory)
