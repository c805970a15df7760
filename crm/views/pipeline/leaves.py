"""Leave: a manager enters a rep's days away and the rep of the same team who stands in
(crm.services.calendar.leaves); the stand-in sees the rep's factories and due work then."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope
from crm.extensions import db
from crm.forms.calendar import LeaveForm, RemoveLeaveForm
from crm.services.calendar import leaves
from crm.values import id_or_none
from crm.views.errors import save_form
from crm.views.pipeline import bp


def _form(posted: bool = True) -> LeaveForm:
    form = LeaveForm() if posted else LeaveForm(formdata=None)
    reps = leaves.led_reps(current_user)
    choices = [("", _("Choose a rep"))] + [
        (str(rep.id), f"{rep.name} · {rep.team.name}" if rep.team else rep.name) for rep in reps
    ]
    form.rep.choices = choices
    form.stand_in.choices = choices
    return form


def _page(form: LeaveForm | None = None, alert: str | None = None, status: int = 200):
    return render_template(
        "pipeline/leaves.html",
        alert=alert,
        form=form or _form(posted=False),
        leaves=leaves.coming(current_user, clock.today()),
        today=clock.today(),
    ), status


@bp.route("/leaves")
@scope.allow("manage")
def leaves_page():
    return _page()


@bp.route("/leaves", methods=["POST"])
@scope.allow("manage")
def add_leave():
    form = _form()
    saved = form.validate_on_submit() and save_form(
        form,
        lambda: leaves.add(
            current_user,
            id_or_none(form.rep.data),
            id_or_none(form.stand_in.data),
            form.starts_on.data,
            form.ends_on.data,
            clock.now(),
        ),
    )
    if not saved:
        return _page(form, status=422)
    flash(
        _(
            "%(rep)s is on leave from %(first)s to %(last)s; %(stand_in)s stands in.",
            rep=saved.rep.name,
            first=saved.starts_on.isoformat(),
            last=saved.ends_on.isoformat(),
            stand_in=saved.stand_in.name,
        ),
        "success",
    )
    return redirect(url_for("pipeline.leaves_page"), code=303)


@bp.route("/leaves/remove", methods=["POST"])
@scope.allow("manage")
def remove_leave():
    form = RemoveLeaveForm()
    if not form.validate_on_submit():
        message = " ".join(map(str, form.leave_id.errors)) or _("The form expired; send it again.")
        return _page(alert=message, status=422)
    leave = leaves.get(current_user, form.leave_id.data)
    if leave is None:
        abort(404)
    leaves.remove(current_user, leave)
    db.session.commit()
    flash(_("Leave removed."), "success")
    return redirect(url_for("pipeline.leaves_page"), code=303)
