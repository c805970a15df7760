"""The factory list as files: as the list page shows it under its filters (`export`), and as a
file that re-imports (the import's columns, the user's whole scope: the Import page's)."""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock, export, scope
from crm.services.factories import factory_export, list_filters
from crm.services.imports import import_factories
from crm.views import downloads
from crm.views.factories import bp
from crm.views.factory_drill import drilled_filters
from crm.views.templating import belt_name, current_locale, stage_label, status_label


@bp.route("/export.csv", endpoint="export_csv")
@bp.route("/export.xlsx", endpoint="export_xlsx")
@scope.allow("manage")
def export_list():
    """Every factory in scope that has a credit code, with the import's headers in the
    reader's language; edited and uploaded again, it changes exactly the edited cells."""
    file_format = "xlsx" if request.path.endswith(".xlsx") else "csv"
    language = "zh" if current_locale().startswith("zh") else "en"
    moment = clock.now()
    return export.response(
        file_format,
        f"factories-{clock.today(moment):%Y-%m-%d}",
        import_factories.export_header(language),
        import_factories.export_rows(current_user, language, moment),
    )


@bp.route("/export")
@scope.allow("manage")
def export_list_view():
    """The factory list as it is filtered on the page (every row, not one page): xlsx, or CSV
    with `?format=csv`; the list's columns with their ids, a factory without a credit code too."""
    file_format = downloads.chosen_format(request.args)
    filters = list_filters.Filters(
        search=request.args.get("q", "").strip()[: list_filters.SEARCH_MAX],
        stage=request.args.get("stage", ""),
        status=request.args.get("status", ""),
        flag=request.args.get("flag", ""),
        owner=request.args.get("owner", ""),
        **drilled_filters(),
    )
    moment = clock.now()
    header = [
        _("Id"),
        _("Factory"),
        _("Credit code"),
        _("Belt id"),
        _("Belt"),
        _("Status"),
        _("Stage"),
        _("Rep id"),
        _("Rep"),
        _("Last visit"),
        _("Next follow-up"),
        _("Required items done"),
        _("Required items"),
        _("Stale"),
        _("Overdue"),
        _("Ready to promote"),
    ]
    yes = _("Yes")
    rows = (
        [
            row["id"],
            row["name"],
            row["credit_code"],
            row["belt_id"],
            belt_name(row["belt"]),
            status_label(row["status"]),
            stage_label(row["stage"]) if row["stage"] else "",
            row["owner_id"],
            row["rep"],
            _local(row["last_visit"]),
            _local(row["next_follow_up"]),
            row["required_done"],
            row["required_total"],
            *(yes if row[flag] else "" for flag in ("stale", "overdue", "eligible")),
        ]
        for row in factory_export.rows(current_user._get_current_object(), filters, moment)
    )
    name = f"factories-{clock.today(moment):%Y-%m-%d}"
    return export.response(file_format, name, header, rows)


def _local(instant) -> str:
    return clock.local(instant).strftime("%Y-%m-%d %H:%M") if instant else ""
