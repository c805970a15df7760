"""The admin's security page: require two-step sign-in of admins and managers; reset a user's."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import scope
from crm.extensions import db
from crm.forms.two_factor import RequireForm, ResetForm
from crm.services.accounts import two_factor
from crm.services.install import settings
from crm.views.errors import save_form

bp = Blueprint("admin_security", __name__, url_prefix="/admin/security")


def _page(
    require_form: RequireForm | None = None, reset_form: ResetForm | None = None, status: int = 200
):
    required = bool(settings.get("second_factor_required"))
    return (
        render_template(
            "admin/security.html",
            required=required,
            require_form=require_form or RequireForm(formdata=None, required=required),
            reset_form=reset_form or ResetForm(formdata=None),
            people=two_factor.overview(),
        ),
        status,
    )


@bp.route("/")
@scope.allow("admin")
def index():
    return _page()


@bp.route("/second-factor", methods=["POST"])
@scope.allow("admin")
def require():
    form = RequireForm()
    if not form.validate_on_submit():
        return _page(require_form=form, status=422)
    two_factor.set_required(current_user, form.required.data)
    db.session.commit()
    if form.required.data:
        flash(_("Admins and managers now set up two-step sign-in at their next page."), "success")
    else:
        flash(_("Two-step sign-in is now optional for everyone."), "success")
    return redirect(url_for("admin_security.index"), code=303)


@bp.route("/reset", methods=["POST"])
@scope.allow("admin")
def reset():
    """A lost phone: the user's second factor goes; they set it up again when they sign in."""
    form = ResetForm()
    user = form.validate_on_submit() and save_form(
        form, lambda: two_factor.reset(current_user, form.user_id.data)
    )
    if not user:
        return _page(reset_form=form, status=422)
    flash(_("Two-step sign-in of %(name)s is reset.", name=user.name), "success")
    return redirect(url_for("admin_security.index"), code=303)
