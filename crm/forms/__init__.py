"""WTForms classes, one module per blueprint; they check shape, the services check rules."""

from __future__ import annotations

from wtforms import DateField as WTFormsDateField
from wtforms import IntegerField
from wtforms.validators import Length, NumberRange, ValidationError

from crm.errors import above, below, too_long, too_short
from crm.values import date_in_window, read_id, text_problem


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
