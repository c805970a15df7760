"""Merge a duplicate into a factory (issue 22, "One factory, one row"): the page lists the
factory's likely duplicates (crm.services.trust.duplicates), shows what a chosen one brings
and what wins, and merges on confirmation (crm.services.trust.merge); a belt's likely
duplicate pairs are listed on a page of their own (crm.services.trust.duplicate_pairs)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from crm import clock, scope
from crm.forms.factories import MergeForm
from crm.models import Factory
from crm.services.factories import edits, prospects
from crm.services.pipeline import board as board_service
from crm.services.trust import duplicate_pairs, duplicates, merge
from crm.values import id_or_none
from crm.views.errors import save_form
from crm.views.factories import _factory, bp


@bp.route("/<int:factory_id>/merge", methods=["GET", "POST"])
@scope.allow("manage")
def merge_page(factory_id: int):
    kept = _factory(factory_id)
    form = MergeForm()
    if request.method == "POST":
        other = _chosen(form.other_id.data) if form.validate_on_submit() else None
        if other is not None and other.id == kept.id:
            form.other_id.errors = [
                _("A factory cannot be merged with itself; choose another one.")
            ]
            other = None
        done = None
        if other is not None and request.form.get("look"):
            # Named by its number: shown first, merged on the next screen's confirmation.
            return redirect(
                url_for("factories.merge_page", factory_id=kept.id, other=other.id), code=303
            )
        if other is not None:
            done = save_form(form, lambda: merge.merge(current_user, kept, other, clock.now()))
        elif not form.errors:
            form.other_id.errors = [_already_merged(form.other_id.data)]
        if done is not None:
            flash(
                ngettext(
                    "%(other)s was merged into this factory: %(num)d visit moved.",
                    "%(other)s was merged into this factory: %(num)d visits moved.",
                    done.moved.get("visits", 0),
                    other=other.name,
                ),
                "success",
            )
            return redirect(url_for("factories.show", factory_id=kept.id), code=303)
        return _page(kept, form, other, 422)
    other = _chosen(id_or_none(request.args.get("other", "")))
    if other is not None:
        form.other_id.data = other.id
    return _page(kept, form, other)


def _already_merged(factory_id: int | None) -> str:
    """Why the named factory cannot be merged: it was merged already (into one the person
    sees), or it is none of theirs."""
    kept_id = merge.resolve(factory_id) if factory_id is not None else None
    kept = _chosen(kept_id)
    if kept is not None:
        return _("That factory was merged into %(name)s already.", name=kept.name)
    return _("Choose one of the factories you may merge.")


def _chosen(factory_id: int | None) -> Factory | None:
    """The chosen duplicate, if it is one the person may merge (in scope)."""
    if factory_id is None:
        return None
    found = scope.get_factories(current_user, [factory_id], clock.today())
    return found.get(factory_id)


def _page(kept: Factory, form: MergeForm, other: Factory | None, status: int = 200):
    likely = [d for d in edits.duplicates_of(current_user, kept, clock.now()) if d.factory]
    counts = merge.record_counts([kept.id, *([other.id] if other else [])])
    return (
        render_template(
            "factories/merge.html",
            factory=kept,
            form=form,
            other=other if other is not None and other.id != kept.id else None,
            likely=likely,
            counts=counts,
            describe=duplicates.describe,
        ),
        status,
    )


@bp.route("/duplicates")
@scope.allow("manage")
def duplicates_page():
    """The likely duplicate pairs of one belt of the person's (the first one unless asked)."""
    belts = board_service.belt_choices(current_user)
    asked = id_or_none(request.args.get("belt", ""))
    belt = next((b for b in belts if b.id == asked), belts[0] if belts else None)
    found = duplicate_pairs.pairs(current_user, belt.id, clock.today()) if belt else []
    return render_template(
        "factories/duplicates.html",
        belts=belts,
        belt=belt,
        pairs=found,
        most=duplicate_pairs.MOST,
        reason_words=prospects.reason_words(),
    )
