"""A factory's and its contacts' values checked field by field, for staff's edits and the
import alike: each check returns the clean value and puts a problem, if any, in `errors`
under the field's name, so that every problem of a form or a row is told at once.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.errors import Invalid, too_long
from crm.models.factory import CONTACT_PHONE_MAX, URL_MAX
from crm.services.install import audit
from crm.values import national_digits

# A phone number as people type it: digits, spaces, "+", "-", dots and brackets.
PHONE_CHARACTERS = re.compile(r"^[\d\s+\-.()]*$")
PHONE_DIGITS_MIN, PHONE_DIGITS_MAX = 5, 20
LATITUDE_RANGE, LONGITUDE_RANGE = (-90.0, 90.0), (-180.0, 180.0)
# The name of each text field in a message about it, as the form labels it (a contact's
# "name" says label=); crm.errors.field_name lets the "(optional)" go.
LABELS = {
    "name": _l("Factory name"),
    "category": _l("Category (optional)"),
    "address": _l("Address (optional)"),
    "role": _l("Role (optional)"),
    "wechat_id": _l("WeChat ID (optional)"),
    "contact_name": _l("Contact name"),
}


def text(
    raw: Any,
    field: str,
    limit: int,
    errors: dict[str, str],
    required: str | None = None,
    label: str | None = None,
) -> str:
    """Stripped text of at most `limit` characters; `required` is the message when empty, and
    a message names the field by `label` (else by LABELS)."""
    value = str(raw or "").strip()
    if required and not value:
        errors[field] = required
    elif len(value) > limit:
        errors[field] = too_long(label or LABELS.get(field, field), limit, len(value))
    return value


def refuse(errors: dict[str, str]) -> None:
    """Nothing is saved when any field has a problem: Invalid names them all."""
    if errors:
        raise Invalid(next(iter(errors.values())), fields=errors)


def web_address(raw: Any, errors: dict[str, str]) -> str:
    """The shop's address: empty, or http(s) with a host."""
    url = str(raw or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if len(url) > URL_MAX or parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        errors["shop_url"] = _("Enter the shop's web address, starting with https:// or http://.")
    return url


def number(
    raw: Any, field: str, bounds: tuple[float, float], errors: dict[str, str]
) -> float | None:
    """A number within bounds, a comma taken as the decimal point; empty is None."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = float(str(raw).strip().replace("，", ".").replace(",", "."))
    except ValueError:
        value = math.nan
    low, high = bounds
    if not math.isfinite(value) or not low <= value <= high:
        errors[field] = _(
            "Enter a number from %(low)s to %(high)s, such as %(example)s.",
            low=f"{low:g}",
            high=f"{high:g}",
            example="29.87" if field == "lat" else "121.55",
        )
        return None
    return value


def phone_number(raw: str | None, errors: dict[str, str]) -> tuple[str, str]:
    """A contact's phone as typed and its digits; a problem goes in errors["phone"]."""
    phone = (raw or "").strip()
    if not phone:
        return "", ""
    digits = national_digits(phone)
    if len(phone) > CONTACT_PHONE_MAX or not PHONE_CHARACTERS.match(phone):
        errors["phone"] = _(
            "Type the number with digits, spaces, + and - only, such as 138 1234 5678."
        )
    elif not PHONE_DIGITS_MIN <= len(digits) <= PHONE_DIGITS_MAX:
        errors["phone"] = _(
            "A phone number has %(min)d to %(max)d digits; this one has %(count)d.",
            min=PHONE_DIGITS_MIN,
            max=PHONE_DIGITS_MAX,
            count=len(digits),
        )
    return phone, digits


def changes_for_audit(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The changed fields; a position is never copied into the audit log, only that it moved."""
    changes = audit.diff(before, after)
    moved = [changes.pop(name) for name in ("lat", "lng") if name in changes]
    if moved:
        had, has = before["lat"] is not None, after["lat"] is not None
        changes["location"] = ("recorded" if had else None, "changed" if has else None)
    return changes
