"""The admin's settings page: the values checked, then stored through crm.services.install.settings
(each change audited with its before and after). Two-step sign-in has its own page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask_babel import gettext as _

from crm.errors import Invalid
from crm.models import STAGES, User
from crm.models.visit import PURPOSES
from crm.services.field import field_map
from crm.services.install import settings

RATE = re.compile(r"^\s*(\d{1,6})\s+per\s+(second|minute|hour|day)\s*$")


@dataclass(frozen=True)
class Bound:
    low: int
    high: int


# The whole numbers an admin sets, with the range that keeps the app sensible.
NUMBERS = {
    "checkin_radius_m": Bound(20, 5_000),
    "checkin_accuracy_m": Bound(5, 2_000),
    "position_max_age_s": Bound(10, 3_600),
    "freshness_days": Bound(1, 365),
    # Retention: long enough for the work that reads each kind (a disputed visit's position, a
    # lockout's count of fifteen minutes, a failed e-mail sent again), at most a century.
    "retention_days": Bound(365, 36_500),
    "position_retention_days": Bound(30, 36_500),
    "media_retention_days": Bound(90, 36_500),
    "sign_in_retention_days": Bound(31, 36_500),
    "delivery_retention_days": Bound(30, 36_500),
}
LONG_IN_STAGE = Bound(7, 3_650)
LONG_FIELDS = {f"long_{stage}": stage for stage in STAGES}
TILE_URL_MAX = 300
TILE_PLACEHOLDERS = ("{z}", "{x}", "{y}")
# Plain http is for a tile server on this machine (tests, a local mirror), never the network.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# The settings that are a choice of visit purposes: a photo at all, a photo taken on the spot.
PURPOSE_LISTS = ("photo_required_purposes", "photo_on_the_spot_purposes")


def current() -> dict:
    """The stored values, in the form's field names."""
    values = {key: settings.get(key) for key in NUMBERS}
    long_days = settings.get("long_in_stage_days") or {}
    values.update({field: long_days.get(stage, "") for field, stage in LONG_FIELDS.items()})
    for key in PURPOSE_LISTS:
        values[key] = list(settings.get(key))
    values["rate_limit_api"] = settings.get("rate_limit_api")
    values["map_tile_url"] = settings.get("map_tile_url")
    values["stay_signed_in"] = bool(settings.get("stay_signed_in"))
    return values


def tile_url(raw) -> str:
    """The map tile URL as typed, checked: empty (no tiles), or a tile server's address with
    {z}, {x} and {y}; https, or http on this machine. Invalid names the field."""
    text = str(raw if raw is not None else "").strip()
    if not text:
        return ""

    def refuse(message: str):
        raise Invalid(message, fields={"map_tile_url": message})

    if len(text) > TILE_URL_MAX:
        refuse(_("Keep the address to %(max)d characters or fewer.", max=TILE_URL_MAX))
    example = "https://tiles.example.org/{z}/{x}/{y}.png"
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if (
        parts is None
        or any(char.isspace() or char in "\"'<>\\`^|" for char in text)
        or not field_map.HOST.fullmatch(parts.netloc)
    ):
        refuse(_("Write the whole address, such as %(example)s.", example=example))
    if not (parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)):
        refuse(_("Use an https address (plain http only for this machine, such as 127.0.0.1)."))
    if not all(placeholder in text for placeholder in TILE_PLACEHOLDERS):
        refuse(_("Put {z}, {x} and {y} in the address where the tile's zoom, column and row go."))
    rest = text
    for placeholder in TILE_PLACEHOLDERS:
        rest = rest.replace(placeholder, "")
    if "{" in rest or "}" in rest:
        refuse(_("Use only {z}, {x} and {y} between braces."))
    return text


def _whole(raw, bound: Bound, errors: dict[str, str], field: str) -> int | None:
    text = str(raw if raw is not None else "").strip()
    if not re.fullmatch(r"\d{1,7}", text):
        errors[field] = _("Enter a whole number.")
        return None
    value = int(text)
    if not bound.low <= value <= bound.high:
        errors[field] = _(
            "Enter a number from %(low)d to %(high)d.", low=bound.low, high=bound.high
        )
        return None
    return value


def save(actor: User, posted: dict) -> int:
    """Check every value, then store them all (or none); returns how many changed."""
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    for key, bound in NUMBERS.items():
        values[key] = _whole(posted.get(key), bound, errors, key)
    # A stage's expected time left empty: that stage is never listed as long in stage.
    long_days = {
        stage: _whole(posted.get(field), LONG_IN_STAGE, errors, field)
        for field, stage in LONG_FIELDS.items()
        if str(posted.get(field) or "").strip()
    }
    purposes = {key: list(posted.get(key) or []) for key in PURPOSE_LISTS}
    for key, chosen in purposes.items():
        if any(purpose not in PURPOSES for purpose in chosen):
            errors[key] = _("Choose among the visit purposes listed.")
    rate = RATE.match(str(posted.get("rate_limit_api") or ""))
    if not rate or int(rate.group(1)) < 1:
        errors["rate_limit_api"] = _('Write a number, "per" and second, minute, hour or day.')
    try:
        values["map_tile_url"] = tile_url(posted.get("map_tile_url"))
    except Invalid as error:
        errors.update(error.fields)
    if errors:
        raise Invalid(_("Correct the fields marked."), fields=errors)
    values["long_in_stage_days"] = long_days
    for key, chosen in purposes.items():
        values[key] = [purpose for purpose in PURPOSES if purpose in chosen]
    values["rate_limit_api"] = f"{int(rate.group(1))} per {rate.group(2)}"
    values["stay_signed_in"] = bool(posted.get("stay_signed_in"))
    changed = 0
    for key, value in values.items():
        if settings.get(key) != value:
            settings.put(actor, key, value)
            changed += 1
    return changed
