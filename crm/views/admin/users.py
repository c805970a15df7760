"""The admin's users: list and search, create, edit, deactivate with a handover, reactivate,
issue a password reset link, and revoke a factory owner's invitation links."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from crm import clock, scope
from crm.errors import Invalid
from crm.extensions import db
from crm.forms.admin import (
    ROLE_LABELS,
    ConfirmForm,
    DeactivateForm,
    UserFilterForm,
    UserForm,
    ids,
    set_choices,
)
from crm.models import Factory, User
from crm.services.accounts import auth as auth_service
from crm.services.accounts import lifecycle as accounts
from crm.services.accounts import password_resets, teams
from crm.services.accounts import users as user_service
from crm.services.factories.reassign import Reassignment
from crm.services.portal import invitations
from crm.values import id_or_none, page_number
from crm.views.admin import bp
from crm.views.errors import save_form
from crm.views.templating import belt_name


@bp.route("/users")
@scope.allow("admin")
def users():
    form = UserFilterForm(request.args)
    set_choices(form.role, ROLE_LABELS.items(), _("Every role"))
    set_choices(form.team, [(t.id, t.name) for t in teams.all_teams()], _("Every team"))
    set_choices(form.belt, [(b.id, belt_name(b)) for b in teams.all_belts()], _("Every belt"))
    filters = accounts.UserFilters(
        text=(form.q.data or "")[:254],
        role=form.role.data or "",
        team_id=_number(form.team.data),
        belt_id=_number(form.belt.data),
        active={"1": True, "0": False}.get(form.active.data or ""),
    )
    page = page_number(request.args.get("page"))
    found, total = accounts.search(filters, page)
    query = {name: value for name, value in request.args.items() if name != "page" and value}
    return render_template(
        "admin/users.html",
        form=form,
        users=found,
        total=total,
        page=page,
        pages=max(1, -(-total // accounts.PAGE_SIZE)),
        query=query,
    )


@bp.route("/users/new", methods=["GET", "POST"])
@scope.allow("admin")
def new_user():
    form = _user_form()
    valid = form.validate_on_submit()  # first: validating clears the fields' errors
    found = _pick_factory(form) if request.method == "POST" else []
    user = (
        valid
        and not form.factory_search.errors
        and save_form(form, lambda: accounts.create(current_user, _values(form)))
    )
    if user:
        flash(
            _("%(name)s can sign in once you give them a reset link (below).", name=user.name),
            "success",
        )
        return redirect(url_for("admin.user", user_id=user.id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/user_form.html",
        form=form,
        user=None,
        factory_matches=found,
        factory_choices_max=user_service.FACTORY_CHOICES_MAX,
    ), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@scope.allow("admin")
def user(user_id: int):
    user = accounts.get_user(user_id)
    if request.method == "GET":
        return _user_page(user)
    form = _user_form(user)
    form.role.data = user.role  # a user's role is not edited here
    valid = form.validate_on_submit()  # first: validating clears the fields' errors
    found = _pick_factory(form)
    saved = (
        valid
        and not form.factory_search.errors
        and save_form(form, lambda: accounts.update_user(current_user, user, _values(form)))
    )
    if saved:
        flash(_("Saved: %(name)s.", name=user.name), "success")
        return redirect(url_for("admin.user", user_id=user.id), code=303)
    return _user_page(user, form=form, factory_matches=found, status=422)


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@scope.allow("admin")
def deactivate_user(user_id: int):
    user = accounts.get_user(user_id)
    form = _deactivate_form(user)
    belt_errors: dict[str, str] = {}
    if form.validate_on_submit():
        reps = {str(rep.id): rep for rep in accounts.active_reps()}
        per_belt = {}
        for belt in accounts.belts_of_work(user):
            chosen = request.form.get(f"belt_{belt.id}", "")
            if chosen:
                per_belt[belt.id] = reps.get(chosen) or _any_user(chosen)
        to_rep = reps.get(form.to_rep.data or "") or _any_user(form.to_rep.data)
        per_belt = {key: value for key, value in per_belt.items() if value is not None}
        confirmed = request.form.get("confirmed") == "1"
        try:
            if not confirmed:  # first the admin reads what moves, then confirms
                handover = accounts.preview_deactivation(
                    current_user, user, clock.now(), to_rep=to_rep, per_belt=per_belt
                )
                confirm = {"handover": handover, "fields": _taker_fields()}
                return _user_page(user, deactivate=form, confirm=confirm)
            moved = accounts.deactivate(
                current_user, user, clock.now(), to_rep=to_rep, per_belt=per_belt
            )
        except Invalid as error:
            db.session.rollback()
            for name, message in error.fields.items():
                if name.startswith("belt_"):
                    belt_errors[name] = message
                else:
                    form.to_rep.errors = [*form.to_rep.errors, message]
            if not error.fields:
                form.form_errors.append(error.message)
        else:
            db.session.commit()
            flash(_deactivated_message(user, moved), "success")
            return redirect(url_for("admin.user", user_id=user.id), code=303)
    return _user_page(user, deactivate=form, belt_errors=belt_errors, status=422)


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@scope.allow("admin")
def reactivate_user(user_id: int):
    user = accounts.get_user(user_id)
    if not ConfirmForm().validate_on_submit():
        return _user_page(user, status=422)
    accounts.reactivate(current_user, user)
    db.session.commit()
    flash(
        _("%(name)s is active again. Give them a reset link to sign in.", name=user.name), "success"
    )
    return redirect(url_for("admin.user", user_id=user.id), code=303)


@bp.route("/users/<int:user_id>/reset-link", methods=["POST"])
@scope.allow("admin")
def reset_link(user_id: int):
    """A new one-time link, shown once on this answer (never stored, never in a redirect)."""
    user = accounts.get_user(user_id)
    if not ConfirmForm().validate_on_submit():
        return _user_page(user, status=422)
    try:
        link = password_resets.issue(user, by=current_user)
    except Invalid as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _user_page(user, status=422)
    db.session.commit()
    return _user_page(user, reset_link=link, status=200)


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@scope.allow("admin")
def revoke_invitation(invitation_id: int):
    """End a factory owner's colleague link (listed on the owner's page) before it is used."""
    invitation = scope.get_invitation(current_user, invitation_id)
    owner = invitation.created_by
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _user_page(owner, status=400)
    if not save_form(form, lambda: invitations.revoke(current_user, invitation, clock.now())):
        for message in form.form_errors:
            flash(message, "danger")
        return _user_page(owner, status=422)
    flash(_("The invitation link is revoked: it no longer makes a login."), "success")
    return redirect(url_for("admin.user", user_id=owner.id, _anchor="invitations"), code=303)


# --- helpers of these pages ------------------------------------------------------------------


def _number(value: str | None) -> int | None:
    return id_or_none(value)


def _any_user(value: str | None) -> User | None:
    """A user named in a taker field who is not an active rep: the service says why not."""
    number = _number(value)
    return db.session.get(User, number) if number is not None else None


def _user_form(user: User | None = None) -> UserForm:
    form = UserForm(obj=user)
    if user is None:  # no role is chosen for the admin: the form asks
        set_choices(form.role, ROLE_LABELS.items(), _("Choose a role"))
    choices = [(team.id, team.name) for team in teams.all_teams()]
    set_choices(form.team_id, choices, _("No team"))
    set_choices(form.team_ids, choices)
    return form


def _pick_factory(form: UserForm) -> list[Factory]:
    """The factory a factory user's form names: searched by the text typed, kept when the search
    finds one or the admin picked one of its matches; the matches when it finds several."""
    text = (form.factory_search.data or "").strip()
    if form.role.data != "factory" or not text:
        return []
    found = user_service.factory_choices(text, user_service.FACTORY_CHOICES_MAX + 1)
    if form.factory_id.data in {factory.id for factory in found}:
        return found
    if len(found) == 1:
        form.factory_id.data = found[0].id
        return found
    form.factory_id.data = None
    form.factory_search.errors = [
        _("Several factories match: choose one below.")
        if found
        else _("No factory matches this: try part of its name, its pinyin or its credit code.")
    ]
    return found


def _taker_fields() -> dict[str, str]:
    """The takers chosen, carried to the confirmation's form as they were sent."""
    return {
        name: value
        for name, value in request.form.items()
        if name == "to_rep" or name.startswith("belt_")
    }


def _deactivated_message(user: User, moved: Reassignment | None) -> str:
    message = _("%(name)s is deactivated and signed out everywhere.", name=user.name)
    if moved is None:
        return message
    handed = _(
        "Handed over: %(factories)s, %(follow_ups)s, %(tasks)s.",
        factories=ngettext("%(num)d factory", "%(num)d factories", moved.count),
        follow_ups=ngettext("%(num)d open follow-up", "%(num)d open follow-ups", moved.follow_ups),
        tasks=ngettext("%(num)d open task", "%(num)d open tasks", moved.tasks),
    )
    return f"{message} {handed}"


def _values(form: UserForm) -> accounts.UserValues:
    return accounts.UserValues(
        role=form.role.data or "",
        name=form.name.data or "",
        email=form.email.data or "",
        phone=form.phone.data or "",
        locale=form.locale.data or None,
        team_id=_number(form.team_id.data),
        team_ids=ids(form.team_ids.data),
        factory_id=form.factory_id.data,
    )


def _deactivate_form(user: User) -> DeactivateForm:
    form = DeactivateForm()
    reps = [rep for rep in accounts.active_reps() if rep.id != user.id]
    set_choices(
        form.to_rep,
        [(rep.id, f"{rep.name} · {rep.team.name if rep.team else _('no team')}") for rep in reps],
        _("Choose a rep"),
    )
    return form


def _user_page(
    user: User,
    *,
    form=None,
    deactivate=None,
    belt_errors=None,
    reset_link=None,
    confirm=None,
    factory_matches=(),
    status=200,
):
    if form is None:
        form = _user_form(user)
        form.role.data = user.role
        form.team_id.data = str(user.team_id or "")
        form.team_ids.data = [str(team.id) for team in user.led_teams]
        form.locale.data = user.locale or ""
    deactivate = deactivate or _deactivate_form(user)
    work = accounts.work_of(user) if user.role in ("rep", "manager") else {}
    return render_template(
        "admin/user.html",
        user=user,
        form=form,
        deactivate=deactivate,
        work=work,
        work_belts=accounts.belts_of_work(user) if any(work.values()) else [],
        belt_errors=belt_errors or {},
        reset_link=reset_link,
        confirm=confirm,
        factory_matches=factory_matches,
        factory_choices_max=user_service.FACTORY_CHOICES_MAX,
        sessions=len(auth_service.live_sessions(user)),
        invitations=invitations.open_made_by(user, clock.now()),
    ), status
