"""The admin's audit log: filters, before and after side by side, keyset pages, export."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _

from crm import export, scope
from crm.forms.admin import AuditFilterForm, set_choices
from crm.services.install import audit_log
from crm.values import id_or_none
from crm.views import downloads
from crm.views.admin import bp
from crm.views.audit_words import AuditWords


def _filters() -> tuple[AuditFilterForm, audit_log.AuditFilters]:
    form = AuditFilterForm(request.args)
    kinds, actions = audit_log.choices()
    words = AuditWords.for_entries([])
    set_choices(form.user, audit_log.user_choices(), _("Everyone"))
    set_choices(form.record_type, [(kind, words.kind(kind)) for kind in kinds], _("Every kind"))
    set_choices(
        form.action, [(action, words.action(action)) for action in actions], _("Every action")
    )
    form.validate()  # a malformed value (a date, an id) is dropped and marked by its field
    filters = audit_log.AuditFilters(
        actor=(form.actor.data or "").strip()[:100],
        record_type=form.record_type.data or "",
        record_id=form.record_id.data if not form.record_id.errors else None,
        action=form.action.data or "",
        since=form.since.data if not form.since.errors else None,
        until=form.until.data if not form.until.errors else None,
        factory=(form.factory.data or "").strip()[:100],
        user_id=id_or_none(form.user.data),
    )
    return form, filters


@bp.route("/audit")
@scope.allow("admin")
def audit():
    form, filters = _filters()
    after = audit_log.parse_cursor(request.args.get("after"))
    entries, next_cursor = audit_log.page(filters, after)
    query = {
        name: value for name, value in request.args.items() if name not in ("after",) and value
    }
    return render_template(
        "admin/audit.html",
        form=form,
        entries=entries,
        words=AuditWords.for_entries(entries),
        next_after=audit_log.cursor_text(next_cursor) if next_cursor else None,
        first_page=after is None,
        query=query,
    ), 422 if form.errors else 200


@bp.route("/audit/export")
@scope.allow("admin")
def audit_export():
    _form, filters = _filters()
    export_format = downloads.chosen_format(request.args)
    return export.response(
        export_format, "audit-log", audit_log.EXPORT_HEADER, audit_log.export_rows(filters)
    )
