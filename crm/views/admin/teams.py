"""The admin's teams and belts: lists, create and edit; a moved belt's stray owners are listed."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import scope
from crm.forms.admin import BeltForm, TeamForm, ids, set_choices
from crm.models import Belt, Team
from crm.services.accounts import teams
from crm.views.admin import bp
from crm.views.errors import save_form
from crm.views.templating import belt_name


@bp.route("/teams")
@scope.allow("admin")
def teams_page():
    listed = teams.all_teams()
    strays = {team.id: len(teams.stray_factories(team=team)) for team in listed}
    return render_template("admin/teams.html", teams=listed, strays=strays)


@bp.route("/teams/new", methods=["GET", "POST"])
@scope.allow("admin")
def new_team():
    return _team_form(None)


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@scope.allow("admin")
def team(team_id: int):
    return _team_form(teams.get_team(team_id))


@bp.route("/belts")
@scope.allow("admin")
def belts():
    return render_template(
        "admin/belts.html", belts=teams.all_belts(), strays=teams.stray_factories()
    )


@bp.route("/belts/new", methods=["GET", "POST"])
@scope.allow("admin")
def new_belt():
    return _belt_form(None)


@bp.route("/belts/<int:belt_id>", methods=["GET", "POST"])
@scope.allow("admin")
def belt(belt_id: int):
    return _belt_form(teams.get_belt(belt_id))


# --- helpers of these pages ------------------------------------------------------------------


def _team_form(team: Team | None):
    form = TeamForm(obj=team)
    set_choices(form.manager_ids, [(u.id, u.name) for u in teams.people("manager")])
    set_choices(
        form.rep_ids,
        [
            (u.id, f"{u.name} · {u.team.name}" if u.team and u.team is not team else u.name)
            for u in teams.people("rep")
        ],
    )
    set_choices(
        form.belt_ids,
        [
            (
                b.id,
                f"{belt_name(b)} · {b.team.name}"
                if b.team and b.team is not team
                else belt_name(b),
            )
            for b in teams.all_belts()
        ],
    )
    if request.method == "GET" and team is not None:
        form.manager_ids.data = [str(u.id) for u in team.managers]
        form.rep_ids.data = [str(u.id) for u in team.reps]
        form.belt_ids.data = [str(b.id) for b in team.belts]
    values = teams.TeamValues(
        name=form.name.data or "",
        manager_ids=ids(form.manager_ids.data),
        rep_ids=ids(form.rep_ids.data),
        belt_ids=ids(form.belt_ids.data),
    )
    saved = form.validate_on_submit() and save_form(
        form, lambda: teams.save_team(current_user, team, values)
    )
    if saved:
        flash(_("Team saved: %(name)s.", name=saved.name), "success")
        return redirect(url_for("admin.team", team_id=saved.id), code=303)
    status = 422 if request.method == "POST" else 200
    strays = teams.stray_factories(team=team) if team is not None else []
    return render_template("admin/team_form.html", form=form, team=team, strays=strays), status


def _belt_form(belt: Belt | None):
    form = BeltForm(obj=belt)
    set_choices(form.team_id, [(t.id, t.name) for t in teams.all_teams()], _("No team yet"))
    if request.method == "GET" and belt is not None:
        form.team_id.data = str(belt.team_id or "")
    saved = form.validate_on_submit() and save_form(
        form, lambda: teams.save_belt(current_user, belt, form.values())
    )
    if saved:
        flash(_("Belt saved: %(name)s.", name=belt_name(saved)), "success")
        return redirect(url_for("admin.belt", belt_id=saved.id), code=303)
    status = 422 if request.method == "POST" else 200
    strays = teams.stray_factories([belt.id]) if belt is not None else []
    return render_template("admin/belt_form.html", form=form, belt=belt, strays=strays), status
