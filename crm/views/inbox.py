"""The inbox: the bell's unread count on every page, the notifications grouped by kind (or one
kind a page at a time), marking read."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from crm import clock, scope
from crm.extensions import db
from crm.forms.inbox import ReadAllForm, ReadForm
from crm.services.notices import inbox
from crm.values import page_number

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
SHOWS = ("all", "unread")


@bp.app_context_processor
def _bell() -> dict:
    def inbox_unread() -> int:
        """The signed-in user's unread count, once per request (the bell on every page)."""
        if not current_user.is_authenticated:
            return 0
        if "inbox_unread" not in g:
            try:
                g.inbox_unread = inbox.unread_count(current_user)
            except SQLAlchemyError:
                # The error page of a failing database still renders, without a count.
                db.session.rollback()
                g.inbox_unread = 0
        return g.inbox_unread

    return {"inbox_unread": inbox_unread, "inbox_kind_label": kind_label}


def kind_label(kind: str) -> str:
    return {
        "follow_up_due_soon": _("Due soon"),
        "follow_up_overdue": _("Overdue"),
        "factory_stale": _("Not visited"),
        "factory_eligible": _("Ready for next stage"),
        "digest": _("Weekly digest"),
        "stage_change_requested": _("Decision needed"),
        "stage_change_approved": _("Approved"),
        "stage_change_direct": _("Stage changed"),
        "stage_change_refused": _("Refused"),
        "evidence": _("Evidence"),
        "visit_disputed": _("Visit disputed"),
        "visit_answered": _("Dispute answered"),
        "factory_merged": _("Factories merged"),
    }.get(kind, _("Notice"))


def _page(status: int = 200, read_form: ReadForm | None = None):
    show = request.args.get("show", "all")
    show = show if show in SHOWS else "all"
    kind = inbox.read_kind(request.args.get("kind"))
    unread_only = show == "unread"
    if kind is None:
        # Every kind: each with its counts and latest few, a link to the rest.
        listing = inbox.InboxPage([], 1, False, inbox.unread_count(current_user))
        groups = inbox.groups(current_user, unread_only=unread_only)
    else:
        number = page_number(request.args.get("page"))
        listing = inbox.page_of(current_user, number, unread_only=unread_only, kind=kind)
        groups = []
    g.inbox_unread = listing.unread
    return (
        render_template(
            "inbox/index.html",
            listing=listing,
            groups=groups,
            kind=kind,
            show=show,
            read_form=read_form or ReadForm(),
            read_all_form=ReadAllForm(),
            target=lambda item: inbox.target_path(item, current_user),
        ),
        status,
    )


@bp.route("/")
@scope.allow("signed_in")
def index():
    return _page()


@bp.route("/read", methods=["POST"])
@scope.allow("signed_in")
def read():
    form = ReadForm()
    if not form.validate_on_submit():
        return _page(status=422, read_form=form)
    item = inbox.get_own(current_user, form.notification_id.data)
    inbox.mark_read(current_user, item, clock.now())
    db.session.commit()
    if form.open.data:
        return redirect(inbox.target_path(item, current_user), code=303)
    return redirect(_back(), code=303)


@bp.route("/read-all", methods=["POST"])
@scope.allow("signed_in")
def read_all():
    form = ReadAllForm()
    if not form.validate_on_submit():
        return _page(status=422)
    count = inbox.mark_all_read(
        current_user, clock.now(), inbox.read_kind(request.args.get("kind"))
    )
    db.session.commit()
    if count:
        flash(_("Marked %(count)d notifications read.", count=count), "success")
    return redirect(_back(), code=303)


def _back() -> str:
    """Back to the list the form was sent from (its page and filter), never elsewhere."""
    show = request.args.get("show")
    number = page_number(request.args.get("page"))
    arguments = {}
    if show in SHOWS and show != "all":
        arguments["show"] = show
    if kind := inbox.read_kind(request.args.get("kind")):
        arguments["kind"] = kind
    if number and number > 1:
        arguments["page"] = number
    return url_for("inbox.index", **arguments)
