"""A factory's History tab: every change to the factory and its records, newest first, paged
(crm.services.install.audit_log.of_factory), for the staff whose scope holds the factory."""

from __future__ import annotations

from flask import render_template, request

from crm import scope
from crm.services.install import audit_log
from crm.views.audit_words import AuditWords
from crm.views.factories import _factory, bp


@bp.route("/<int:factory_id>/history")
@scope.allow("staff")
def history(factory_id: int):
    factory = _factory(factory_id)
    after = audit_log.parse_cursor(request.args.get("after"))
    entries, next_cursor = audit_log.of_factory(factory, after)
    return render_template(
        "factories/history.html",
        factory=factory,
        entries=entries,
        words=AuditWords.for_entries(entries),
        next_after=audit_log.cursor_text(next_cursor) if next_cursor else None,
        first_page=after is None,
    )
