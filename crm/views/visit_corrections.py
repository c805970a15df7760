"""A rep corrects their visit (crm.services.trust.corrections): a page of the visits
blueprint, kept in a module of its own."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm import clock, scope
from crm.extensions import db
from crm.forms.visits import VisitCorrectionForm
from crm.models import Contact, Visit
from crm.services.trust import corrections
from crm.views.errors import save_form
from crm.views.visits import bp


@bp.route("/visits/<int:visit_id>/correct")
@scope.allow("rep")
def correct(visit_id: int):
    visit = _correctable(visit_id)
    form = VisitCorrectionForm(
        formdata=None,
        purpose=visit.purpose,
        summary=visit.summary,
        notes=visit.notes,
        contact_id=str(visit.contact_id or ""),
    )
    return _page(form, visit)


@bp.route("/visits/<int:visit_id>/correct", methods=["POST"])
@scope.allow("rep")
def save_correction(visit_id: int):
    visit = _correctable(visit_id)
    form = VisitCorrectionForm()
    _contact_choices(form, visit)
    sent = form.validate_on_submit() and save_form(
        form,
        lambda: corrections.correct(
            current_user,
            visit,
            corrections.Correction(
                purpose=form.purpose.data,
                summary=form.summary.data or "",
                notes=form.notes.data or "",
                contact_id=int(form.contact_id.data) if form.contact_id.data else None,
            ),
            clock.now(),
        ),
    )
    if not sent:
        return _page(form, visit, status=422)
    flash(_("Visit corrected. Its earlier text is kept for your manager to see."), "success")
    target = url_for("factories.show", factory_id=visit.factory_id)
    return redirect(f"{target}#visit-{visit.id}", code=303)


def _correctable(visit_id: int) -> Visit:
    """The visit in scope (404 otherwise), and the signed-in user its rep within the day (403
    with the reason otherwise)."""
    now = clock.now()
    visit = scope.get_visit(current_user, visit_id, clock.today(now))
    corrections.check_may_correct(current_user, visit, now)
    return visit


def _contact_choices(form: VisitCorrectionForm, visit: Visit) -> None:
    contacts = db.session.scalars(
        select(Contact).where(Contact.factory_id == visit.factory_id).order_by(Contact.name)
    )
    form.contact_id.choices = [("", _("No one named"))] + [
        (str(contact.id), contact.name) for contact in contacts
    ]


def _page(form: VisitCorrectionForm, visit: Visit, status: int = 200):
    if not form.contact_id.choices:
        _contact_choices(form, visit)
    return (
        render_template(
            "visits/correct.html",
            form=form,
            visit=visit,
            until=corrections.correctable_until(visit),
        ),
        status,
    )
