"""Forms of the account's API tokens page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Optional

from crm.forms import DateField, NamedLength, PageForm
from crm.models.api_token import TOKEN_NAME_MAX


class ApiTokenForm(PageForm):
    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Name the token after the integration that will use it.")),
            NamedLength(max=TOKEN_NAME_MAX),
        ],
        description=_l("What will use it, such as “Marketplace sync”."),
        render_kw={"autocomplete": "off", "maxlength": TOKEN_NAME_MAX},
    )
    expires_on = DateField(
        _l("Expires on (optional)"),
        validators=[Optional()],
        description=_l("The token stops working at the start of this day. Empty: never."),
    )


class RevokeTokenForm(PageForm):
    """Revokes one token; no fields but the CSRF token."""
