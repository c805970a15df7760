"""A rep answers a dispute about their visit (crm.services.trust.flagged): a page of the
visits blueprint, kept in a module of its own."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope
from crm.forms.visits import DisputeAnswerForm
from crm.models import Visit
from crm.services.trust import flagged
from crm.views.errors import save_form
from crm.views.visits import bp


@bp.route("/visits/<int:visit_id>/answer")
@scope.allow("rep")
def answer(visit_id: int):
    visit = _disputed(visit_id)
    return _page(DisputeAnswerForm(formdata=None), visit)


@bp.route("/visits/<int:visit_id>/answer", methods=["POST"])
@scope.allow("rep")
def save_answer(visit_id: int):
    visit = _disputed(visit_id)
    form = DisputeAnswerForm()
    done = form.validate_on_submit() and save_form(
        form, lambda: flagged.answer(current_user, visit, form.answer.data or "", clock.now())
    )
    if not done:
        return _page(form, visit, status=422)
    flash(_("Answer sent to your manager."), "success")
    target = url_for("factories.show", factory_id=visit.factory_id)
    return redirect(f"{target}#visit-{visit.id}", code=303)


def _disputed(visit_id: int) -> Visit:
    """The visit in scope (404 otherwise), its rep signed in, its dispute waiting for them."""
    visit = scope.get_visit(current_user, visit_id, clock.today())
    flagged.waiting_dispute(current_user, visit)
    return visit


def _page(form: DisputeAnswerForm, visit: Visit, status: int = 200):
    return (
        render_template(
            "visits/answer.html", form=form, visit=visit, review=flagged.review_of(visit)
        ),
        status,
    )
