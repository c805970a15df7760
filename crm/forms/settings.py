"""The admin's settings form: shape only; crm.services.install.settings_page checks the values."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.widgets import NumberInput

from crm.forms import PageForm


def _number(label, hint) -> StringField:
    # Typed as text and checked by the service: "12a" gets a sentence, not a browser bubble.
    return StringField(label, description=hint, widget=NumberInput(), render_kw={"min": 1})


class SettingsForm(PageForm):
    checkin_radius_m = _number(
        _l("Check-in radius (m)"),
        _l("A check-in farther than this from the factory is marked off-site."),
    )
    checkin_accuracy_m = _number(
        _l("Position accuracy needed (m)"),
        _l("A phone position less precise than this does not count as on-site."),
    )
    position_max_age_s = _number(
        _l("Oldest position accepted (seconds)"),
        _l("A position older than this at check-in does not count."),
    )
    freshness_days = _number(
        _l("Figures stay fresh for (days after their month)"),
        _l("Older figures no longer count for a measured target."),
    )
    long_elementary = _number(_l("Long in Elementary after (days)"), "")
    long_junior = _number(_l("Long in Junior high after (days)"), "")
    long_senior = _number(_l("Long in High school after (days)"), "")
    long_university = _number(_l("Long in University after (days)"), "")
    photo_required_purposes = SelectMultipleField(
        _l("Visits that need a photo"), validate_choice=False
    )
    photo_on_the_spot_purposes = SelectMultipleField(
        _l("Visits that need a photo taken on the spot"),
        validate_choice=False,
        description=_l(
            "Taken with the camera at most 10 minutes before the check-in: a photo from the "
            "album or from an earlier day is not enough."
        ),
    )
    retention_days = _number(
        _l("Keep the audit log for (days)"),
        _l("Older entries are deleted by the daily retention job; the deletion is itself logged."),
    )
    position_retention_days = _number(
        _l("Keep exact check-in positions for (days)"),
        _l(
            "Older positions are rounded to about 1 km; the distance to the factory and the "
            "off-site flag stay."
        ),
    )
    media_retention_days = _number(
        _l("Keep visit photos and voice notes for (days)"),
        _l("Older ones are deleted; the visit then says they were deleted and when."),
    )
    sign_in_retention_days = _number(
        _l("Keep failed sign-ins and unused sessions for (days)"),
        _l("A session unseen for this long is deleted, and so is a failed sign-in this old."),
    )
    delivery_retention_days = _number(
        _l("Keep sent e-mails and team messages for (days)"),
        _l("Older deliveries that were sent or failed for good are deleted; waiting ones stay."),
    )
    rate_limit_api = StringField(
        _l("API requests allowed per token"),
        description=_l('For example "300 per minute" or "5000 per hour".'),
    )
    map_tile_url = StringField(
        _l("Map tile address"),
        description=_l(
            "Leave empty for a plain map with no tiles. Or a tile server's https address with "
            "{z}, {x} and {y}, such as https://tiles.example.org/{z}/{x}/{y}.png: Today's maps "
            "then load their tiles from that server."
        ),
        render_kw={
            "maxlength": 300,
            "inputmode": "url",
            "autocomplete": "off",
            "spellcheck": "false",
        },
    )
    stay_signed_in = BooleanField(
        _l('"Keep me signed in" is ticked on the sign-in page'),
        description=_l(
            "Field staff then stay signed in on their phones, and the pages kept for offline "
            "use with them. Anyone can untick it when signing in on a shared phone."
        ),
    )
