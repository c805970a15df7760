"""Flagged visits (crm.services.trust.flagged): the manager's queue, a review from each card
(accept with a note, or dispute), and the close of an answered dispute. Each card has its own
form, its fields named apart, so one card's error never reaches another."""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import scope
from crm.clock import now, today
from crm.forms.pipeline import CloseReviewForm, ReviewVisitForm
from crm.models import Visit, VisitReview
from crm.services.trust import flagged
from crm.values import page_number
from crm.views.errors import save_form
from crm.views.pipeline import bp


@dataclass
class Card:
    visit: Visit
    review: VisitReview | None
    form: ReviewVisitForm | CloseReviewForm | None
    failed: bool = False


def flagged_filters() -> flagged.FlaggedFilters:
    state = request.args.get("state", "")
    return flagged.FlaggedFilters(
        state=state if state in flagged.STATES else "to_review",
        page=page_number(request.args.get("page")),
    )


def _card_form(kind: type, visit_id: int, *, posted: bool):
    form = kind() if posted else kind(formdata=None)
    for field in form:
        field.id = field.label.field_id = f"{field.name}-{visit_id}"
    return form


def _page(filters: flagged.FlaggedFilters, failed=None, status: int = 200):
    listing = flagged.page(current_user, filters, today())
    visits = listing.visits
    if failed is not None and failed[0] not in visits:
        visits = [failed[0], *visits]  # the refused card stays in sight with its message
        listing.reviews.update(flagged.reviews_of([failed[0].id]))
    cards = []
    for visit in visits:
        review = listing.reviews.get(visit.id)
        mine = failed is not None and failed[0].id == visit.id
        if mine:
            form = failed[1]
        elif review is None:
            form = _card_form(ReviewVisitForm, visit.id, posted=False)
        elif review.state in ("disputed", "answered"):
            form = _card_form(CloseReviewForm, visit.id, posted=False)
        else:
            form = None
        cards.append(Card(visit, review, form, failed=mine))
    return render_template(
        "pipeline/flagged.html", cards=cards, listing=listing, filters=listing.filters
    ), status


@bp.route("/flagged")
@scope.allow("manage")
def flagged_visits():
    return _page(flagged_filters())


@bp.route("/flagged/<int:visit_id>/review", methods=["POST"])
@scope.allow("manage")
def review_visit(visit_id: int):
    moment = now()
    visit = scope.get_visit(current_user, visit_id, today(moment))
    form = _card_form(ReviewVisitForm, visit.id, posted=True)
    accept = form.outcome.data == "accept"
    done = form.validate_on_submit() and save_form(
        form, lambda: flagged.review(current_user, visit, accept, form.note.data or "", moment)
    )
    filters = flagged_filters()
    if not done:
        return _page(filters, failed=(visit, form), status=422)
    if accept:
        flash(_("Accepted: the visit to %(name)s stands.", name=visit.factory.name), "success")
    else:
        flash(_("Disputed: %(rep)s is asked to answer.", rep=visit.rep.name), "info")
    return redirect(url_for("pipeline.flagged_visits", state=filters.state), code=303)


@bp.route("/flagged/<int:visit_id>/close", methods=["POST"])
@scope.allow("manage")
def close_review(visit_id: int):
    moment = now()
    visit = scope.get_visit(current_user, visit_id, today(moment))
    form = _card_form(CloseReviewForm, visit.id, posted=True)
    done = form.validate_on_submit() and save_form(
        form, lambda: flagged.close(current_user, visit, form.note.data or "", moment)
    )
    filters = flagged_filters()
    if not done:
        return _page(filters, failed=(visit, form), status=422)
    flash(_("Closed: the visit to %(name)s.", name=visit.factory.name), "success")
    return redirect(url_for("pipeline.flagged_visits", state=filters.state), code=303)
