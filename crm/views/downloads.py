"""The format a download asks for, read at the edge; the one export module (crm.export) writes
it."""

from __future__ import annotations

from flask_babel import gettext as _

from crm import export
from crm.errors import Invalid


def chosen_format(args) -> str:
    """The format a download asks for in its query (`format`): xlsx unless it says csv.

    Anything else is refused by the field (a 422 naming `format`), never guessed."""
    value = args.get("format", "") or "xlsx"
    if value not in export.FORMATS:
        message = _("Choose CSV or Excel.")
        raise Invalid(message, fields={"format": message})
    return value
