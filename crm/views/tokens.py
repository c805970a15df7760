"""The signed-in user's personal API tokens: make one (its secret shown once), revoke one."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, scope
from crm.extensions import db
from crm.forms.tokens import ApiTokenForm, RevokeTokenForm
from crm.services.accounts import api_tokens
from crm.views.errors import save_form

bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")


def _page(form: ApiTokenForm | None = None, made: api_tokens.Made | None = None, status=200):
    now = clock.now()
    response = render_template(
        "account/tokens.html",
        form=form or ApiTokenForm(formdata=None),
        revoke_form=RevokeTokenForm(),
        tokens=api_tokens.live_tokens(current_user, now),
        made=made,
    )
    return response, status, {"Cache-Control": "no-store"}


@bp.route("/")
@scope.allow("signed_in")
def index():
    return _page()


@bp.route("/", methods=["POST"])
@scope.allow("signed_in")
def create():
    form = ApiTokenForm()
    made = form.validate_on_submit() and save_form(
        form,
        lambda: api_tokens.create(
            current_user,
            form.name.data,
            clock.at_local_time(form.expires_on.data, 0) if form.expires_on.data else None,
            clock.now(),
        ),
    )
    if not made:
        return _page(form=form, status=422)
    # The page itself shows the secret (never a redirect or a flash that could keep it).
    return _page(made=made, status=201)


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@scope.allow("signed_in")
def revoke(token_id: int):
    form = RevokeTokenForm()
    if not form.validate_on_submit():
        return _page(status=400)
    # Another user's token, or one revoked already, revokes nothing and says the same.
    api_tokens.revoke(current_user, token_id, clock.now())
    db.session.commit()
    flash(_("The token is revoked: requests that send it are refused from now on."), "success")
    return redirect(url_for("tokens.index"), code=303)
