"""The staff's factories: the list, and the factory page with its actions (figures, stage moves,
claiming a prospect, contacts, editing the factory's details)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup

from crm import cache, clock, scope
from crm.errors import Conflict
from crm.extensions import db
from crm.forms.calendar import ClosureForm
from crm.forms.factories import (
    STAGE_FORMS,
    ClaimForm,
    ContactForm,
    FactoryFilterForm,
    FactoryForm,
    ManagedFactoryForm,
    SnapshotForm,
    StageChangeForm,
)
from crm.models import STAGES, STATUSES, Belt, Factory, StageChange
from crm.services.calendar import closures
from crm.services.factories import edits as factories
from crm.services.factories import factory_list, factory_page, list_filters
from crm.services.factories.prospects import can_claim
from crm.services.factories.prospects import claim as claim_prospect
from crm.services.growth import promotions, snapshots
from crm.services.trust import duplicates
from crm.values import id_or_none, page_number
from crm.views import factory_page_forms, factory_words
from crm.views.errors import save_form
from crm.views.exactly_once import exactly_once
from crm.views.kept import current_locale, kept_html
from crm.views.security import local_path
from crm.views.templating import belt_name, stage_label, status_label

bp = Blueprint("factories", __name__, url_prefix="/factories")


bp.context_processor(factory_words.helpers)
bp.app_template_global()(factory_words.factory_page_words)


@bp.route("/")
@scope.allow("staff")
def index():
    return _list_page()


@bp.route("/<int:factory_id>")
@scope.allow("staff")
def show(factory_id: int):
    return _page(_factory(factory_id, *factory_page.loading()))


@bp.route("/<int:factory_id>/claim", methods=["POST"])
@scope.allow("staff")
def claim(factory_id: int):
    factory = _factory(factory_id)
    form = ClaimForm()
    try:
        claim_prospect(current_user, factory, clock.now())
    except Conflict as error:
        db.session.rollback()
        return _list_page(alert=error.message, status=409)
    db.session.commit()
    flash(_("%(name)s is yours now. Plan a first visit.", name=factory.name), "success")
    default = url_for("factories.show", factory_id=factory.id)
    return redirect(local_path(form.next.data, under="/factories") or default, code=303)


@bp.route("/<int:factory_id>/contacts", methods=["POST"])
@scope.allow("staff")
@exactly_once("contact_add")
def add_contact(factory_id: int):
    factory = _factory(factory_id)
    form = ContactForm(prefix="contact")
    saved = form.validate_on_submit() and save_form(
        form,
        lambda: factories.add_contact(
            current_user,
            factory,
            name=form.name.data,
            role=form.role.data,
            phone=form.phone.data,
            wechat_id=form.wechat_id.data,
            now=clock.now(),
        ),
    )
    if not saved:
        _focus_first_error(form)
        return _page(factory, contact_form=form, status=422)
    flash(_("Contact added: %(name)s.", name=saved.name), "success")
    return redirect(url_for("factories.show", factory_id=factory.id, _anchor="reach"), code=303)


@bp.route("/<int:factory_id>/edit", methods=["GET", "POST"])
@scope.allow("staff")
def edit(factory_id: int):
    factory = _factory(factory_id)
    form = _edit_form(factory)
    if request.method == "GET":
        return _edit_page(factory, form)
    saved = form.validate_on_submit() and save_form(
        form,
        lambda: factories.update_factory(current_user, factory, _edit_values(form), clock.now()),
    )
    if not saved:
        _focus_first_error(form)
        return _edit_page(factory, form, status=422)
    flash(_("Saved the factory's details."), "success")
    found = factories.duplicates_of(current_user, factory, clock.now())
    if found:
        lines = " ".join(duplicates.describe(duplicate) for duplicate in found)
        flash(_("This factory may be in the CRM already: %(found)s", found=lines), "warning")
    return redirect(url_for("factories.show", factory_id=factory.id), code=303)


@bp.route("/<int:factory_id>/snapshots", methods=["POST"])
@scope.allow("staff")
def record_snapshot(factory_id: int):
    factory = _factory(factory_id)
    form = SnapshotForm(metric_choices=factory_page.metric_choices(current_locale()))
    saved = form.validate_on_submit() and save_form(
        form,
        lambda: snapshots.record_snapshot(
            current_user,
            factory,
            form.metric.data,
            form.month.data,
            form.value.data,
            clock.now(),
        ),
    )
    if not saved:
        _focus_first_error(form)
        return _page(factory, snapshot_form=form, status=422)
    flash(
        _(
            "Figure saved: %(metric)s for %(month)s.",
            metric=saved.metric.name_for(current_locale()),
            month=factory_words.format_month(saved.month),
        ),
        "success",
    )
    return redirect(url_for("factories.show", factory_id=factory.id, _anchor="figures"), code=303)


@bp.route("/<int:factory_id>/stage-change", methods=["POST"])
@scope.allow("staff")
def change_stage(factory_id: int):
    factory = _factory(factory_id)
    prefix = _stage_form_prefix()
    form = STAGE_FORMS[prefix](prefix=prefix, stage_choices=factory_page_forms.stage_choices())
    try:
        changed = form.validate_on_submit() and save_form(
            form, lambda: _move(prefix, factory, form)
        )
    except Conflict as error:
        db.session.rollback()
        return _page(factory, status=409, stage_alert=error.message)
    if not changed:
        _focus_first_error(form)
        return _page(factory, stage_forms={prefix: form}, status=422)
    flash(_moved_message(changed), "success")
    return redirect(url_for("factories.show", factory_id=factory.id), code=303)


# --- helpers of these pages -----------------------------------------------------------------


def _factory(factory_id: int, *options) -> Factory:
    """The factory of the URL in the user's scope; a page of a factory merged into another
    redirects to the kept one's (a form sent to the old address acts on the kept one)."""
    factory = scope.get_factory(current_user, factory_id, clock.today(), *options)
    if factory.id != factory_id and request.method == "GET":
        moved = {**(request.view_args or {}), "factory_id": factory.id}
        abort(redirect(url_for(request.endpoint, **request.args, **moved), code=301))
    return factory


def _list_page(*, alert: str | None = None, status: int = 200):
    owner_choices = _owner_choices()
    form = FactoryFilterForm(
        request.args,
        stage_choices=[(code, stage_label(code)) for code in STAGES],
        status_choices=[(code, status_label(code)) for code in STATUSES],
        flag_choices=[
            ("overdue", _("Overdue follow-up")),
            ("stale", _("Stale: not visited for too long")),
            ("eligible", _("Ready to promote")),
            ("offsite", _("Off-site check-ins")),
        ],
        owner_choices=owner_choices,
    )
    filters = list_filters.Filters(
        search=(form.q.data or "").strip(),
        stage=form.stage.data or "",
        status=form.status.data or "",
        flag=form.flag.data or "",
        owner=form.owner.data or "",
        **factory_drill.drilled_filters(),
        page=page_number(request.args.get("page")),
        after=id_or_none(request.args.get("after")),
        before=id_or_none(request.args.get("before")),
    )
    # The user itself, not the proxy: the list asks it about every row (can_claim).
    # A search is not counted apart: its count would read every key in scope again.
    listing = factory_list.list_factories(
        current_user._get_current_object(), filters, clock.now(), count=not filters.search.strip()
    )
    body = render_template(
        "factories/index.html",
        form=form,
        filter_fields=_filter_fields(form, listing.filters, owner_choices),
        listing=listing,
        filters=listing.filters,
        chips=factory_drill.drilled_chips(listing.filters),
        alert=alert,
        count_cap=format_decimal(factory_list.COUNT_CAP),
    )
    return body, status


def _filter_fields(
    form: FactoryFilterForm, filters: list_filters.Filters, owner_choices: list[tuple[str, str]]
) -> Markup:
    """The list's four filters, the same for every request with the same choices and chosen
    values (and language, and crm.cache's version for the stages' names): rendered once per
    process for them (a sixth of the list's time)."""

    def render() -> str:
        return render_template("factories/_filters.html", form=form, filters=filters)

    version = cache.version()
    if version is None:  # this transaction changes the stages: their names as they are now
        return Markup(render())
    chosen = (form.stage.data, form.status.data, form.flag.data, form.owner.data)
    key = ("factory filters", version, tuple(owner_choices), chosen)
    return kept_html((*key, filters.active, bool(filters.search)), render)


def _owner_choices() -> list[tuple[str, str]]:
    if current_user.role == "rep":
        return [("mine", _("Mine")), ("unowned", _("Unowned prospects, to claim"))]
    return [("unowned", _("Nobody's yet")), *list_filters.owner_choices(current_user)]


def _edit_form(factory: Factory) -> FactoryForm:
    if not factories.may_manage(current_user):
        return FactoryForm(obj=factory)
    belts = db.session.scalars(scope.belts(current_user).order_by(Belt.code))
    choices = [(belt.id, belt_name(belt)) for belt in belts]
    if factory.belt_id not in {value for value, _label in choices}:
        choices.insert(0, (factory.belt_id, belt_name(factory.belt)))
    return ManagedFactoryForm(obj=factory, belt_choices=choices)


def _edit_values(form: FactoryForm) -> dict:
    """What the form sent, by the service's field names; a rep's form has no managed fields.

    The override's reason counts only when posted: a manager's page does not show it, and a
    save that leaves it out keeps the admin's record.
    """
    return {
        name: form[name].data
        for name in factories.EDITABLE
        if name in form and (name != factories.OVERRIDE or form[name].name in request.form)
    }


def _edit_page(factory: Factory, form: FactoryForm, status: int = 200):
    can_override = scope.may(current_user, "override_credit_code_check")
    return render_template(
        "factories/edit.html", factory=factory, form=form, can_override=can_override
    ), status


def _page(
    factory: Factory,
    *,
    snapshot_form: SnapshotForm | None = None,
    stage_forms: dict[str, StageChangeForm] | None = None,
    stage_alert: str | None = None,
    contact_form: ContactForm | None = None,
    closure_form: ClosureForm | None = None,
    closure_alert: str | None = None,
    status: int = 200,
):
    now, locale = clock.now(), current_locale()
    page = factory_page.build(current_user, factory, now, locale)
    # Only a refused form is made here; the blank ones are kept per process (blank).
    refused = {
        name
        for name, form in (
            ("contact", contact_form),
            ("closure", closure_form),
            ("snapshot", snapshot_form),
        )
        if form is not None
    }
    refused.update(stage_forms or {})
    return (
        render_template(
            "factories/show.html",
            page=page,
            factory=page.factory,
            blank=factory_page_forms.blank_forms(page, now, locale, refused),
            snapshot_form=snapshot_form,
            stage_forms=stage_forms or {},
            stage_alert=stage_alert,
            contact_form=contact_form,
            can_claim=can_claim(current_user, page.factory),
            today=clock.today(now),
            closures=closures.current_and_coming(page.factory, clock.today(now)),
            closure_form=closure_form,
            closure_alert=closure_alert,
        ),
        status,
    )


def _focus_first_error(form: FlaskForm) -> None:
    """The page comes back at its top; focusing the first refused field takes the eye to it."""
    for field in form:
        if field.errors and getattr(field.widget, "input_type", None) != "hidden":
            field.render_kw = {**(field.render_kw or {}), "autofocus": True}
            return


def _stage_form_prefix() -> str:
    """Which of the page's stage forms was sent; a bare post counts as the role's own form."""
    sent = request.form.get("form", "")
    if sent in STAGE_FORMS:
        return sent
    return "change" if scope.may(current_user, "decide_stage_change") else "request"


def _move(prefix: str, factory: Factory, form: StageChangeForm) -> StageChange:
    to_status, to_stage = form.to_status.data, form.to_stage.data or None
    if prefix == "request":
        return promotions.request_change(
            current_user, factory, to_status, to_stage, form.reason.data or "", clock.now()
        )
    return promotions.change_directly(
        current_user,
        factory,
        to_status,
        to_stage,
        form.reason.data or "",
        bool(form.override.data),
        clock.now(),
    )


def _moved_message(change: StageChange) -> str:
    if change.decision == "pending":
        return _(
            "Promotion to %(stage)s requested. The factory's managers decide it.",
            stage=stage_label(change.to_stage),
        )
    if change.to_status == "paused":
        return _("Paused. Time in stage stops counting until it is active again.")
    if change.to_status == "churned":
        return _("Marked as churned.")
    if change.from_status in ("paused", "churned"):
        return _("Active again.")
    return _("Moved to %(stage)s.", stage=stage_label(change.to_stage))


# The list's export (a manager's or admin's), the factory's closures and the page for a new
# prospect live in their own modules, on this blueprint.
from crm.views import (  # noqa: E402,F401
    factories_export,
    factory_closures,
    factory_drill,
    factory_history,
    factory_merge,
    prospects,
)
