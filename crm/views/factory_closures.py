"""A factory's closures, entered by its rep on the factory page (crm.services.calendar.closures)."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope
from crm.extensions import db
from crm.forms.calendar import ClosureForm, RemoveClosureForm
from crm.services.calendar import closures
from crm.views.errors import save_form
from crm.views.factories import _factory, _focus_first_error, _page, bp


@bp.route("/<int:factory_id>/closures", methods=["POST"])
@scope.allow("staff")
def add_closure(factory_id: int):
    factory = _factory(factory_id)
    form = ClosureForm(prefix="closure")
    saved = form.validate_on_submit() and save_form(
        form,
        lambda: closures.add(
            current_user,
            factory,
            form.starts_on.data,
            form.ends_on.data,
            form.reason.data or "",
            clock.now(),
        ),
    )
    if not saved:
        _focus_first_error(form)
        return _page(factory, closure_form=form, status=422)
    flash(
        _(
            "Closure saved: due dates skip %(first)s to %(last)s.",
            first=saved.starts_on.isoformat(),
            last=saved.ends_on.isoformat(),
        ),
        "success",
    )
    return redirect(url_for("factories.show", factory_id=factory.id, _anchor="closures"), code=303)


@bp.route("/<int:factory_id>/closures/remove", methods=["POST"])
@scope.allow("staff")
def remove_closure(factory_id: int):
    factory = _factory(factory_id)
    form = RemoveClosureForm()
    if not form.validate_on_submit():
        message = " ".join(map(str, form.closure_id.errors)) or _(
            "The form expired; send it again."
        )
        return _page(factory, closure_alert=message, status=422)
    closure = closures.get(factory, form.closure_id.data)
    if closure is None:
        abort(404)
    closures.remove(current_user, closure)
    db.session.commit()
    flash(_("Closure removed."), "success")
    return redirect(url_for("factories.show", factory_id=factory.id, _anchor="closures"), code=303)
