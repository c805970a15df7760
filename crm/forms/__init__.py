"""WTForms classes, one module per blueprint; they check shape, the services check rules."""

from __future__ import annotations

from flask import g, request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto, _is_submitted
from werkzeug.datastructures import MultiDict
from wtforms import DateField as WTFormsDateField
from wtforms import FileField, Form, IntegerField
from wtforms.meta import DefaultMeta
from wtforms.validators import Length, NumberRange, ValidationError

from crm.errors import above, below, too_long, too_short
from crm.values import date_in_window, read_id, text_problem


def storable(value: object) -> object:
    """Every form field's first filter: text that holds a NUL, a lone surrogate or a control
    character (crm.values) is a refusal by its field (WTForms turns a filter's ValueError into
    the field's error), before any validator or service sees it."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise ValueError(problem)
    return value


def _bind_storable(unbound_field, options: dict) -> dict:
    if not issubclass(unbound_field.field_class, FileField):
        options["filters"] = [storable, *unbound_field.kwargs.get("filters", ())]
    return options


class _QueryMeta(DefaultMeta):
    def bind_field(self, form, unbound_field, options):
        return super().bind_field(form, unbound_field, _bind_storable(unbound_field, options))


class _StorableText:
    """A field whose text is not storable is refused by the field (`storable`) and holds no
    value, so a view that reads a filter's data despite its error gets nothing, not the NUL."""

    def process(self, *args, **kwargs) -> None:
        super().process(*args, **kwargs)
        for field in self:
            if isinstance(field.data, str) and text_problem(field.data):
                field.data = None


class QueryForm(_StorableText, Form):
    """A form read from the URL's query (filters): every field's text is checked as storable."""

    Meta = _QueryMeta


def _json_fields(data: object) -> MultiDict:
    """A JSON object posted to a page's form, as its text fields (anything else: no fields)."""
    fields: MultiDict = MultiDict()
    if not isinstance(data, dict):
        return fields
    for name, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                fields.add(name, str(item))
    return fields


class _Posted:
    """The posted fields as a form reads them: the files under its file fields' names, the
    text under every other name (a file posted as text, or text as a file, is not there)."""

    def __init__(self, file_names: set[str]) -> None:
        self.file_names = file_names

    def _source(self, name: str):
        return request.files if name in self.file_names else request.form

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._source(name)

    def __iter__(self):
        yield from (name for name in request.form if name not in self.file_names)
        yield from (name for name in request.files if name in self.file_names)

    def getlist(self, name: str) -> list:
        return self._source(name).getlist(name)


class PageForm(_StorableText, FlaskForm):
    """Every posted form of the pages: one place for what a field may receive.

    A file reaches only a file field and text only the other fields (a file posted under a
    text field's name, or text under a file's, is as if absent); a JSON body counts as its
    object's text fields; every field's text is checked as storable (`storable`).
    """

    class Meta(FlaskForm.Meta):
        def bind_field(self, form, unbound_field, options):
            return super().bind_field(form, unbound_field, _bind_storable(unbound_field, options))

        def wrap_formdata(self, form, formdata):
            if formdata is not _Auto:
                return super().wrap_formdata(form, formdata)
            if not _is_submitted():
                return None
            if request.is_json and not request.form:
                try:
                    data = request.get_json(silent=True)
                except RecursionError:  # nested thousands deep: no fields, not a 500
                    data = None
                return _json_fields(data) or None
            if not (request.form or request.files):
                return None
            return _Posted({field.name for field in form if isinstance(field, FileField)})

    def validate(self, extra_validators=None) -> bool:
        # The request's checked forms, whose messages a refusal sent as JSON names by field.
        g.setdefault("checked_forms", []).append(self)
        return super().validate(extra_validators)


class NamedLength(Length):
    """A length limit whose message names the field by its label, in the reader's language."""

    def __init__(self, min: int = -1, max: int = -1) -> None:
        super().__init__(min=min, max=max)

    def __call__(self, form, field) -> None:
        length = len(field.data) if field.data else 0
        if self.max != -1 and length > self.max:
            raise ValidationError(too_long(field.label.text, self.max, length))
        if length < self.min:
            raise ValidationError(too_short(field.label.text, self.min))


class NamedRange(NumberRange):
    """A number range whose message names the field by its label."""

    def __init__(self, min: float | None = None, max: float | None = None) -> None:
        super().__init__(min=min, max=max)

    def __call__(self, form, field) -> None:
        data = field.data
        if data is None:
            return
        if self.min is not None and data < self.min:
            raise ValidationError(below(field.label.text, self.min))
        if self.max is not None and data > self.max:
            raise ValidationError(above(field.label.text, self.max))


class IdField(IntegerField):
    """A record's id: ASCII digits within the id column's range (crm.values), else a field error."""

    def process_formdata(self, valuelist) -> None:
        if not valuelist or valuelist[0] in ("", None):
            return
        try:
            self.data = read_id(valuelist[0])
        except ValueError as error:
            self.data = None
            raise ValueError(str(error)) from None


def record_id(value: object) -> int:
    """`coerce` for a select of records: the same reading of an id as IdField."""
    return read_id(value)


class CleanText:
    """Text that can be stored as it is: no NUL, lone surrogate or control character
    (crm.values); `single_line` refuses line breaks too (a name, a subject, a header)."""

    def __init__(self, single_line: bool = False) -> None:
        self.newlines = not single_line

    def __call__(self, form, field) -> None:
        if isinstance(field.data, str):
            problem = text_problem(field.data, self.newlines)
            if problem:
                raise ValidationError(problem)


class DateField(WTFormsDateField):
    """A date a person picks, within the years the app can count with (crm.values): 9999-12-31
    or 0001-01-01 is a field error, not an overflow when a due time or a period is worked out."""

    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        if self.data is not None:
            try:
                date_in_window(self.data)
            except ValueError as error:
                self.data = None
                raise ValueError(str(error)) from None
