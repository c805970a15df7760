"""The admin's settings: check-in rules, freshness of figures, long-in-stage days, visits that
need a photo (or one taken on the spot), the map tile address, audit retention and the API's
rate limit (DESIGN.md "Settings")."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from crm import scope
from crm.forms.settings import SettingsForm
from crm.models.visit import PURPOSES
from crm.services.install import settings_page
from crm.views.admin import bp
from crm.views.errors import save_form


def _form(data: dict | None = None) -> SettingsForm:
    form = SettingsForm(formdata=None, data=data) if data is not None else SettingsForm()
    for name in settings_page.PURPOSE_LISTS:
        form[name].choices = [(code, code) for code in PURPOSES]
    return form


@bp.route("/settings", methods=["GET", "POST"])
@scope.allow("admin")
def settings():
    if request.method == "GET":
        return render_template("admin/settings.html", form=_form(settings_page.current()))
    form = _form()
    posted = {name: field.data for name, field in form._fields.items()}
    changed = form.validate_on_submit() and save_form(
        form, lambda: settings_page.save(current_user, posted)
    )
    if changed is False or changed is None:
        if not form.errors and not form.form_errors:
            form.form_errors.append(_("The form expired; send it again."))
        return render_template("admin/settings.html", form=form), 422
    if changed:
        flash(ngettext("%(num)d setting saved.", "%(num)d settings saved.", changed), "success")
    else:
        flash(_("Nothing changed."), "success")
    return redirect(url_for("admin.settings"), code=303)
