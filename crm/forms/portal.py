"""The factory's forms: evidence for a task (the rules live in crm.services.portal.evidence),
and revoking a colleague's invitation link."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import FileField, StringField, TextAreaField

from crm.forms import NamedLength, PageForm
from crm.models.task import REASON_MAX, URL_MAX

NUMBER_TEXT_MAX = 40


class EvidenceForm(PageForm):
    evidence_link = StringField(
        _l("Link"),
        validators=[NamedLength(max=URL_MAX)],
        description=_l("A video or a shop page, starting with https://"),
        render_kw={"inputmode": "url", "autocomplete": "off"},
    )
    evidence_number = StringField(
        _l("Number"),
        validators=[NamedLength(max=NUMBER_TEXT_MAX)],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    evidence_note = TextAreaField(
        _l("Note"), validators=[NamedLength(max=REASON_MAX)], render_kw={"rows": 2}
    )
    photo = FileField(
        _l("Photo"),
        render_kw={"accept": "image/*"},
        description=_l("Shrunk on the phone before sending."),
    )


class RevokeInvitationForm(PageForm):
    """Revokes one invitation link; no fields but the CSRF token."""
