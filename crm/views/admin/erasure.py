"""The admin's erasure of a person (PIPL): a page that names what will change, then, on the
person's name typed, the erasure (crm.services.privacy.erasure)."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope
from crm.errors import NotFound
from crm.extensions import db
from crm.forms.admin import EraseForm
from crm.models import Contact
from crm.services.accounts import lifecycle as accounts
from crm.services.privacy import erasure
from crm.views.admin import bp
from crm.views.errors import save_form


@bp.route("/users/<int:user_id>/erase", methods=["GET", "POST"])
@scope.allow("admin")
def erase_user(user_id: int):
    user = accounts.get_user(user_id)
    return _erasure_page(
        refusal=erasure.refusal_for_user(current_user, user),
        preview=lambda: erasure.preview_user(current_user, user),
        erase=lambda typed: erasure.erase_user(current_user, user, clock.now(), typed),
        done=_("Erased: the record stays, shown as a former user's."),
        person=user.name,
        kind="user",
        back=url_for("admin.user", user_id=user.id),
        action=url_for("admin.erase_user", user_id=user.id),
    )


@bp.route("/contacts/<int:contact_id>/erase", methods=["GET", "POST"])
@scope.allow("admin")
def erase_contact(contact_id: int):
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(_("This contact does not exist."))
    factory = scope.get_factory(current_user, contact.factory_id, clock.today())
    return _erasure_page(
        refusal=erasure.refusal_for_contact(contact),
        preview=lambda: erasure.preview_contact(current_user, contact),
        erase=lambda typed: erasure.erase_contact(current_user, contact, clock.now(), typed),
        done=_("Erased: the visits that met this contact keep the link."),
        person=contact.name,
        kind="contact",
        back=url_for("factories.show", factory_id=factory.id),
        action=url_for("admin.erase_contact", contact_id=contact.id),
        factory=factory,
    )


def _erasure_page(
    *,
    refusal: str | None,
    preview: Callable[[], erasure.Erasure],
    erase: Callable[[str], erasure.Erasure],
    done: str,
    **page,
):
    """The page that names what will change (or why not now); its post erases, then back."""
    form = EraseForm()
    if request.method == "POST" and not refusal:
        typed = form.confirmation.data or ""
        if form.validate_on_submit() and save_form(form, lambda: erase(typed)):
            flash(done, "success")
            return redirect(page["back"], code=303)
    status = 422 if request.method == "POST" else 200
    plan = None if refusal else preview()
    return render_template(
        "admin/erase.html", form=form, refusal=refusal, plan=plan, **page
    ), status
