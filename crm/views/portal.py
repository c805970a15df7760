"""The factory's own portal: its growth through the stages, its checklist, evidence, visits."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope
from crm.extensions import db
from crm.forms.auth import InviteForm
from crm.forms.portal import EvidenceForm, RevokeInvitationForm
from crm.models import STAGES, Factory, Task
from crm.services.field import photos
from crm.services.portal import evidence, invitations
from crm.services.portal import overview as portal
from crm.values import ID_MAX
from crm.views.errors import save_form
from crm.views.exactly_once import exactly_once
from crm.views.files import photo_response
from crm.views.kept import RowFragment, current_locale

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.route("/")
@scope.allow("factory")
def index():
    return _page(_own_factory(*portal.loading()))


@bp.route("/tasks/<int:task_id>/evidence", methods=["POST"])
@scope.allow("factory")
@exactly_once("evidence_hand_in")
def hand_in(task_id: int):
    task = _own_task(task_id)
    form = EvidenceForm(prefix=f"task-{task.id}")
    saved = form.validate_on_submit() and save_form(form, lambda: _hand_in(task, form))
    if not saved:
        return _page(task.factory, forms={task.id: form}, status=422)
    flash(_("Handed in: %(task)s. Your rep will check it.", task=task.title_for(current_locale())))
    return redirect(url_for("portal.index", _anchor=f"task-{task.id}"), code=303)


@bp.route("/tasks/<int:task_id>/evidence/photo")
@scope.allow("factory")
def evidence_photo(task_id: int):
    task = _own_task(task_id)
    return photo_response(task.evidence_file, f"evidence-{task.id}.jpg")


@bp.route("/team")
@scope.allow("factory")
def team():
    return _team_page(_own_factory())


@bp.route("/team/invitations", methods=["POST"])
@scope.allow("factory")
def invite():
    """The owner makes a link for a colleague; it is shown this once."""
    factory = _own_factory()
    form = InviteForm()
    if not form.validate_on_submit():
        return _team_page(factory, status=400)
    invitation, token = invitations.invite(current_user, clock.now())
    db.session.commit()
    link = url_for("auth.accept_invitation", token=token, _external=True)
    return _team_page(factory, new_invitation=invitation, new_link=link)


@bp.route("/team/invitations/<int:invitation_id>/revoke", methods=["POST"])
@scope.allow("factory")
def revoke_invitation(invitation_id: int):
    """The owner ends a link not used yet (sent to the wrong person, or no longer wanted)."""
    factory = _own_factory()
    invitation = scope.get_invitation(current_user, invitation_id)
    form = RevokeInvitationForm()
    if not form.validate_on_submit():
        return _team_page(factory, status=400)
    if not save_form(form, lambda: invitations.revoke(current_user, invitation, clock.now())):
        return _team_page(factory, status=422, revoke_errors=form.form_errors)
    flash(_("The invitation link is revoked: it no longer makes a login."), "success")
    return redirect(url_for("portal.team"), code=303)


def _team_page(factory: Factory, status: int = 200, **shown):
    page = render_template(
        "portal/team.html",
        factory=factory,
        colleagues=invitations.colleagues(factory.id),
        open_invitations=invitations.open_for(factory.id, clock.now()),
        invite_form=InviteForm(),
        **shown,
    )
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"  # the link is shown once
    return response


def _own_factory(*options) -> Factory:
    return scope.get_factory(current_user, current_user.factory_id, clock.today(), *options)


def _own_task(task_id: int) -> Task:
    return scope.get_task(current_user, task_id, clock.today())


def _hand_in(task: Task, form: EvidenceForm) -> Task:
    uploads = photos.read_uploads(request.files.getlist(form.photo.name), field="photo")
    return evidence.hand_in(
        current_user,
        task,
        form.evidence_link.data,
        form.evidence_number.data,
        form.evidence_note.data,
        uploads[0] if uploads else None,
        clock.now(),
    )


def _page(factory: Factory, forms: dict[int, EvidenceForm] | None = None, status: int = 200):
    growth = portal.growth(factory, clock.now(), current_locale())
    # An open item's blank form is the same but for its id: rendered once, kept by the process.
    blank = RowFragment(
        "portal/_hand_in.html",
        "task",
        lambda: {"form": EvidenceForm(formdata=None, prefix=f"task-{ID_MAX}")},
    )
    return (
        render_template(
            "portal/index.html",
            growth=growth,
            stages=STAGES,
            forms=forms or {},
            blank_hand_in=blank,
        ),
        status,
    )
