"""WTForms classes, one module per blueprint; they check shape, the services check rules."""

from __future__ import annotations

from wtforms.validators import Length, NumberRange, ValidationError

from crm.errors import above, below, too_long, too_short


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
