"""The check-in and visit log form: one shape for the page, the phone's outbox and the API.

It checks shape only (types, lengths, ranges); the rules (the check-in window, off-site,
exactly-once keys, which tasks and follow-ups belong to the factory) live in
crm.services.field.visits, whose messages come back by these same field names.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from wtforms import (
    FileField,
    FloatField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from crm.forms import CleanText, DateField, IdField, NamedLength, PageForm, record_id
from crm.models.visit import CLIENT_KEY_MAX, NOTES_MAX, PURPOSES, REVIEW_NOTE_MAX, SUMMARY_MAX
from crm.services.field import voice_notes
from crm.services.field.photos import Upload
from crm.services.field.visits import Submission
from crm.values import is_ascii_digits, read_instant

# A visit's key: what the form, the API's body and its document accept.
CLIENT_KEY_PATTERN = r"^[A-Za-z0-9_-]+$"
NEXT_CHOICES = ("3", "7", "14", "date", "none")
ACCURACY_MAX_M = 100_000


def parse_instant(text: str | None) -> datetime | None:
    """An ISO 8601 instant that carries its UTC offset ("2026-11-25T09:30:00+08:00", "...Z")."""
    if not text:
        return None
    return read_instant(text.strip())


def _instant(form, field) -> None:
    try:
        parse_instant(field.data)
    except ValueError as error:
        raise ValidationError(str(error)) from None


def _instants(form, field) -> None:
    for value in field.data or []:
        try:
            parse_instant(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class VisitAccount(PageForm):
    """A visit's account as its rep writes it, when logging it and when correcting it."""

    purpose = SelectField(
        _l("Purpose"),
        choices=[SelectChoice(code, code) for code in ("", *PURPOSES)],
        validators=[InputRequired(_l("Choose what the visit was for."))],
    )
    summary = TextAreaField(
        _l("Summary for the factory"),
        validators=[NamedLength(max=SUMMARY_MAX), CleanText()],
        description=_l("The factory sees this."),
        render_kw={"rows": 3},
    )
    notes = TextAreaField(
        _l("Internal notes"),
        validators=[NamedLength(max=NOTES_MAX), CleanText()],
        description=_l("Only staff see these."),
        render_kw={"rows": 3},
    )


class VisitForm(VisitAccount):
    """A visit as the phone sends it; the CSRF token travels in a header from the outbox."""

    factory_id = IdField(
        _l("Factory"), validators=[InputRequired(_l("Choose the factory you visited."))]
    )
    client_key = HiddenField(
        validators=[
            InputRequired(_l("The visit's key is missing; reload the form.")),
            Length(min=8, max=CLIENT_KEY_MAX),
            Regexp(CLIENT_KEY_PATTERN, message=_l("The visit's key has characters it may not.")),
        ]
    )
    task_ids = SelectMultipleField(
        _l("Tasks done on this visit"), coerce=record_id, validate_choice=False
    )
    follow_up_id = IdField(validators=[Optional()])
    contact_id = IdField(validators=[Optional()])
    next = RadioField(
        _l("Next follow-up"),
        choices=[SelectChoice(code, code) for code in NEXT_CHOICES],
        validators=[Optional()],
    )
    next_on = DateField(_l("On this date"), validators=[Optional()])
    next_reason = StringField(
        _l("Reason for the next visit"),
        validators=[NamedLength(max=300), CleanText(single_line=True)],
    )
    photos = MultipleFileField(_l("Photos"))
    # Each photo's capture time as the phone read it from the photo (EXIF), in the photos'
    # order; empty for a photo that had none.
    photo_taken_at = SelectMultipleField(coerce=str, validate_choice=False, validators=[_instants])
    voice_note = FileField(_l("Voice note"))
    # Filled by the page script from the phone: its clock and its position.
    checked_in_at = HiddenField(validators=[Optional(), _instant])
    lat = FloatField(
        validators=[Optional(), NumberRange(-90, 90, _l("A latitude lies between -90 and 90."))]
    )
    lng = FloatField(
        validators=[
            Optional(),
            NumberRange(-180, 180, _l("A longitude lies between -180 and 180.")),
        ]
    )
    accuracy_m = FloatField(
        validators=[Optional(), NumberRange(0, ACCURACY_MAX_M, _l("An accuracy in metres."))]
    )
    position_at = HiddenField(validators=[Optional(), _instant])
    # A consent to precise location given on the phone, travelling until the server has it.
    location_consent = IdField(validators=[Optional()])
    location_consent_at = HiddenField(validators=[Optional(), _instant])

    def validate(self, extra_validators=None) -> bool:
        """Fields that go together: a position's two halves, a date when "on a date" is picked.

        (An Optional field stops its own checks when empty, so these cannot live on a field.)
        """
        valid = super().validate(extra_validators)
        if self.next.data == "date" and self.next_on.data is None and not self.next_on.errors:
            self.next_on.errors = [*self.next_on.errors, _l("Pick the date of the next follow-up.")]
            valid = False
        if (self.lat.data is None) != (self.lng.data is None) and not (
            self.lat.errors or self.lng.errors
        ):
            message = _l("Send the latitude and the longitude together.")
            missing = self.lng if self.lng.data is None else self.lat
            missing.errors = [*missing.errors, message]
            valid = False
        consent, consent_at = self.location_consent, self.location_consent_at
        if (consent.data is None) != (not consent_at.data) and not (
            consent.errors or consent_at.errors
        ):
            message = _l("Send the consent's version and time together.")
            missing = consent if consent.data is None else consent_at
            missing.errors = [*missing.errors, message]
            valid = False
        return valid

    def submission(
        self, uploads: list[Upload], voice_note: voice_notes.Upload | None = None
    ) -> Submission:
        """The checked values as the visit service takes them (a quick pick stays an offset)."""
        pick = self.next.data or "none"
        return Submission(
            client_key=self.client_key.data,
            purpose=self.purpose.data,
            summary=self.summary.data or "",
            notes=self.notes.data or "",
            task_ids=list(self.task_ids.data or []),
            follow_up_id=self.follow_up_id.data,
            contact_id=self.contact_id.data,
            next_in_days=int(pick) if is_ascii_digits(pick) and len(pick) < 4 else None,
            next_on=self.next_on.data if pick == "date" else None,
            next_reason=self.next_reason.data or "",
            checked_in_at=parse_instant(self.checked_in_at.data),
            lat=self.lat.data,
            lng=self.lng.data,
            accuracy_m=self.accuracy_m.data,
            position_at=parse_instant(self.position_at.data),
            photos=uploads,
            photo_taken_at=[parse_instant(value) for value in self.photo_taken_at.data or []],
            voice_note=voice_note,
            location_consent=self.location_consent.data,
            location_consent_at=parse_instant(self.location_consent_at.data),
        )


class VisitCorrectionForm(VisitAccount):
    """A rep's correction of their visit: its purpose, texts and the contact met (the view gives
    the contact's choices, the factory's own)."""

    contact_id = SelectField(_l("Contact met"), coerce=str, validate_choice=True)


class DisputeAnswerForm(PageForm):
    """The rep's answer to a disputed visit."""

    answer = TextAreaField(
        _l("Your answer"),
        validators=[NamedLength(max=REVIEW_NOTE_MAX), CleanText()],
        description=_l("Your manager reads it and closes the dispute."),
        render_kw={"rows": 4},
    )
