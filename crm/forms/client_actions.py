"""The key a phone sends with a field action (the form's hidden field or the header)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField
from wtforms.validators import Length, Optional, Regexp

from crm.forms import PageForm
from crm.models.visit import CLIENT_KEY_MAX


class ClientKeyForm(PageForm):
    """Only the key: the action's own form reads the rest (and checks the CSRF token)."""

    class Meta:
        csrf = False

    client_key = HiddenField(
        validators=[
            Optional(),
            Length(min=8, max=CLIENT_KEY_MAX),
            Regexp(r"^[A-Za-z0-9_-]+$", message=_l("The action's key has characters it may not.")),
        ]
    )
