"""The factory list as a file that re-imports: the import's columns, the user's whole scope."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from crm import clock, export, scope
from crm.services.imports import import_factories
from crm.views.factories import bp
from crm.views.templating import current_locale


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
