"""Reassign and bulk edit: tick factories and give them to another rep or change their
key-account flag; hand a rep's whole work (or only their open follow-ups) to another rep."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from crm import clock, scope
from crm.errors import DomainError
from crm.extensions import db
from crm.forms.pipeline import BulkEditForm, HandOverForm
from crm.services.factories import reassign
from crm.services.pipeline import board as board_service
from crm.values import id_or_none, ids_of, page_number
from crm.views.pipeline import bp
from crm.views.security import local_path

PAGE_SIZE = 100


def _rep_choices() -> list[tuple[str, str]]:
    return [(str(rep.id), rep.name) for rep in board_service.rep_choices(current_user)]


def _filters(args) -> tuple[str, str]:
    """The page's belt and owner filters, kept to values that mean something."""
    belt = args.get("belt", "") if id_or_none(args.get("belt")) else ""
    rep = args.get("rep", "")
    return belt, rep if id_or_none(rep) or rep == "unowned" else ""


def _page(bulk: BulkEditForm | None = None, hand: HandOverForm | None = None, status=200):
    args = request.args
    belt, rep = _filters(args)
    page = page_number(args.get("page"))
    factories, total = reassign.candidates(current_user, belt, rep, page, clock.now(), PAGE_SIZE)
    choices = _rep_choices()
    query = {name: value for name, value in (("belt", belt), ("rep", rep)) if value}
    return render_template(
        "pipeline/reassign.html",
        factories=factories,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        query=query,
        belt=belt,
        rep=rep,
        belts=board_service.belt_choices(current_user),
        reps=board_service.rep_choices(current_user),
        bulk=bulk or BulkEditForm(formdata=None, rep_choices=choices),
        hand=hand or HandOverForm(formdata=None, rep_choices=choices),
    ), status


@bp.route("/reassign")
@scope.allow("manage")
def reassign_page():
    return _page()


@bp.route("/reassign", methods=["POST"])
@scope.allow("manage")
def bulk_edit():
    moment = clock.now()
    form = BulkEditForm(rep_choices=_rep_choices())
    ids = ids_of(request.form.getlist("factory_ids"))
    if form.every_listed.data:
        # The list's own filters, posted with the form: what the manager sees listed.
        ids = reassign.listed_ids(current_user, *_filters(request.form), moment)
    back = local_path(request.form.get("next"), under="/pipeline/") or url_for(
        "pipeline.reassign_page"
    )
    if not form.validate_on_submit():
        return _page(bulk=form, status=422)
    if not ids:
        form.form_errors.append(_("Tick the factories first."))
        return _page(bulk=form, status=422)
    factories = reassign.factories_in_scope(current_user, ids, moment)
    try:
        if form.action.data == "reassign":
            rep = reassign.rep_in_scope(current_user, form.to_rep.data)
            done = reassign.reassign(current_user, factories, rep, moment)
            message = ngettext(
                "%(num)d factory is %(rep)s's now, with its open follow-ups and tasks.",
                "%(num)d factories are %(rep)s's now, with their open follow-ups and tasks.",
                done.count,
                rep=rep.name,
            )
        else:
            changed = reassign.set_key_account(
                current_user, factories, form.action.data == "key_on", moment
            )
            message = ngettext(
                "%(num)d factory changed.", "%(num)d factories changed.", len(changed)
            )
    except DomainError as error:
        db.session.rollback()
        for name, text in error.fields.items():
            if name in form:
                form[name].errors = [*form[name].errors, text]
        if not error.fields:
            form.form_errors.append(error.message)
        return _page(bulk=form, status=422)
    db.session.commit()
    flash(message, "success")
    return redirect(back, code=303)


@bp.route("/reassign/hand-over", methods=["POST"])
@scope.allow("manage")
def hand_over():
    moment = clock.now()
    form = HandOverForm(rep_choices=_rep_choices())
    if not form.validate_on_submit():
        return _page(hand=form, status=422)
    try:
        from_rep = reassign.rep_in_scope(current_user, form.from_rep.data)
        to_rep = reassign.rep_in_scope(current_user, form.to_rep.data)
        if form.follow_ups_only.data:
            moved = reassign.move_follow_ups(current_user, from_rep, to_rep, moment)
            message = ngettext(
                "%(num)d open follow-up moved to %(rep)s.",
                "%(num)d open follow-ups moved to %(rep)s.",
                moved,
                rep=to_rep.name,
            )
        else:
            done = reassign.hand_over(current_user, from_rep, to_rep, moment)
            message = _(
                "%(rep)s now has %(factories)d factories, %(follow_ups)d follow-ups and "
                "%(tasks)d tasks more.",
                rep=to_rep.name,
                factories=done.count,
                follow_ups=done.follow_ups,
                tasks=done.tasks,
            )
    except DomainError as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return _page(hand=form, status=422)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("pipeline.reassign_page"), code=303)
