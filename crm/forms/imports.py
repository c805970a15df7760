"""Forms of the import pages: the upload, the header mapping, the confirmation.

They check shape only; what the file holds is checked by crm.services.imports.runs, whose
messages come back by these fields (the file's by `file`, a column's by `column_<n>`).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import RadioField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from crm.forms import PageForm
from crm.services.imports.import_columns import KIND_LABELS


class UploadForm(PageForm):
    kind = RadioField(
        _l("The file holds"),
        choices=[SelectChoice(kind, label) for kind, label in KIND_LABELS.items()],
        default="factories",
        validators=[InputRequired(_l("Choose what the file holds."))],
    )
    file = FileField(
        _l("Spreadsheet"),
        description=_l(
            "CSV (UTF-8 or GB18030, comma or tab), .xlsx or .ods; the first row names the columns."
        ),
        render_kw={"accept": ".csv,.txt,.tsv,.xlsx,.ods,text/csv"},
    )


class ConfirmForm(PageForm):
    """Import the checked rows: a CSRF token and a button."""


def mapping_form(
    headers: list[str], samples: list[str], mapping: list[str], choices, formdata=None
):
    """One select per column of the file, named `column_<n>`, set to the field it holds."""

    class MappingForm(PageForm):
        pass

    for index, header in enumerate(headers):
        label = header or _l("Column %(number)d", number=index + 1)
        field = SelectField(
            label,
            choices=[SelectChoice(value, text) for value, text in choices],
            default=mapping[index] if index < len(mapping) else "",
            description=samples[index] if index < len(samples) else "",
            validate_choice=True,
        )
        setattr(MappingForm, f"column_{index}", field)
    return MappingForm(formdata=formdata) if formdata is not None else MappingForm()


def mapping_of(form, count: int) -> list[str]:
    return [form[f"column_{index}"].data or "" for index in range(count)]
