"""Values at the edge: what an id, a whole number, a date, an instant and a text accept, and
a phone's digits as the records keep them.

Pages, query strings, URL paths and the API read their values here, so a value that a
database column cannot hold (an id above 2^31-1, a year 9999) or that a database refuses
(a NUL byte, a lone surrogate) is a refusal by the field instead of a 500.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

# The largest id a database integer column holds (PostgreSQL's integer): a larger one names
# no record.
ID_MAX = 2**31 - 1
# Dates and instants a person or a phone may mean; beyond them date arithmetic overflows.
YEAR_MIN = 1900
YEAR_MAX = 2200
# Control characters other than tab and newline break storage, e-mail headers and robot
# messages; a carriage return travels with a newline only where newlines are allowed.
_CONTROL = {chr(code) for code in range(32)} | {chr(127)}


def is_ascii_digits(raw: object) -> bool:
    """True for a non-empty string of 0-9 only ("²" and "٣" pass str.isdigit(), not this)."""
    return isinstance(raw, str) and raw.isascii() and raw.isdigit()


def read_id(raw: object) -> int:
    """A record id: ASCII digits within 1..2^31-1, or ValueError."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif is_ascii_digits(raw) and len(raw) <= 10:
        value = int(raw)
    else:
        raise ValueError(_("Choose a record from the list."))
    if not 1 <= value <= ID_MAX:
        raise ValueError(_("Choose a record from the list."))
    return value


def id_or_none(raw: object) -> int | None:
    """A record id, or None for anything that is not one."""
    try:
        return read_id(raw)
    except ValueError:
        return None


def ids_of(values: list) -> list[int]:
    """The ids among a list of submitted values; anything that is not an id is dropped."""
    return [value for value in (id_or_none(raw) for raw in values or []) if value is not None]


def read_whole(raw: object, low: int = 0, high: int = ID_MAX) -> int:
    """A whole number: ASCII digits (an optional leading minus when low < 0) within low..high."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    else:
        text = raw if isinstance(raw, str) else ""
        digits = text[1:] if text.startswith("-") and low < 0 else text
        if not is_ascii_digits(digits) or len(digits) > 18:
            raise ValueError(_("Enter a whole number."))
        value = int(text)
    if not low <= value <= high:
        raise ValueError(_("Enter a whole number from %(low)d to %(high)d.", low=low, high=high))
    return value


def whole_or(raw: object, default: int, low: int = 0, high: int = ID_MAX) -> int:
    """A whole number from a query string, or the default for anything else."""
    try:
        return read_whole(raw, low, high)
    except ValueError:
        return default


def date_in_window(value: date, low: date | None = None, high: date | None = None) -> date:
    """The date itself when it lies in the window (years 1900..2200 unless narrower)."""
    low = low or date(YEAR_MIN, 1, 1)
    high = high or date(YEAR_MAX, 12, 31)
    if not low <= value <= high:
        raise ValueError(
            _("Enter a date from %(low)s to %(high)s.", low=low.isoformat(), high=high.isoformat())
        )
    return value


def read_date(raw: object, low: date | None = None, high: date | None = None) -> date:
    """A date such as 2026-11-25 within the window, or ValueError."""
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        return date_in_window(raw, low, high)
    try:
        value = date.fromisoformat(raw) if isinstance(raw, str) and raw.isascii() else None
    except ValueError:
        value = None
    if value is None:
        raise ValueError(_("Send a date such as 2026-11-25."))
    return date_in_window(value, low, high)


def date_or_none(raw: object, low: date | None = None, high: date | None = None) -> date | None:
    try:
        return read_date(raw, low, high)
    except ValueError:
        return None


def instant_in_window(value: datetime) -> datetime:
    """An aware instant whose offset is a real one and whose UTC year lies in 1900..2200."""
    offset = value.utcoffset()
    if offset is None or abs(offset) > timedelta(hours=14):
        raise ValueError(_("Send a time with its UTC offset, such as 2026-11-25T09:30:00+08:00."))
    if not YEAR_MIN < value.year < YEAR_MAX:
        raise ValueError(
            _("Enter a time between the years %(low)d and %(high)d.", low=YEAR_MIN, high=YEAR_MAX)
        )
    return value


def read_instant(raw: object) -> datetime:
    """A time with its UTC offset, such as 2026-11-25T09:30:00+08:00, or ValueError."""
    if isinstance(raw, datetime):
        value: datetime | None = raw
    else:
        try:
            text = raw if isinstance(raw, str) and raw.isascii() else ""
            value = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
        except ValueError:
            value = None
    if value is None or value.tzinfo is None:
        raise ValueError(_("Send a time with its UTC offset, such as 2026-11-25T09:30:00+08:00."))
    return instant_in_window(value)


def text_problem(raw: str, newlines: bool = True) -> str | None:
    """Why a text cannot be stored as it is (NUL, a lone surrogate, a control character)."""
    if "\x00" in raw:
        return _("Text may not hold a NUL character.")
    if any("\ud800" <= char <= "\udfff" for char in raw):
        return _("Text may not hold a broken character.")
    allowed = {"\t", "\n", "\r"} if newlines else {"\t"}
    if any(char in _CONTROL and char not in allowed for char in raw):
        if not newlines and ("\n" in raw or "\r" in raw):
            return _("Keep this on one line.")
        return _("Text may not hold control characters.")
    return None


def read_text(raw: object, newlines: bool = True) -> str:
    """Text as sent, when it holds no NUL, lone surrogate or disallowed control character."""
    if not isinstance(raw, str):
        raise ValueError(_("Send text."))
    problem = text_problem(raw, newlines)
    if problem:
        raise ValueError(problem)
    return raw


class IdConverter(IntegerConverter):
    """`<int:...>` in a URL: ASCII digits up to the largest id, so a larger one answers 404
    before the view runs instead of overflowing the database's integer."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


# A list's page beyond this is past any list's end; a larger one would overflow the OFFSET.
PAGE_MAX = 100_000


def page_number(raw: object, default: int = 1) -> int:
    """A list's page from a query string: 1..PAGE_MAX, else the default (a bad page is page 1)."""
    return whole_or(raw, default, 1, PAGE_MAX)


# --- a phone's digits ----------------------------------------------------------------------
# A phone number's digits as the records keep them, the one rule for every place that
# compares phones (the contact search, the duplicate check, the import, sign-in by phone).
#
# Whatever way it was written (`131 7921 6444`, `+86 131-7921-6444`, `0086 13179216444`), a
# mainland number is kept as its national digits: the country prefix of a mainland mobile is
# dropped, so the same phone written two ways has one key.

_NOT_DIGIT = re.compile(r"\D")
MOBILE_DIGITS = 11
COUNTRY_PREFIXES = ("0086", "86")


def national_digits(raw: str | None) -> str:
    """The digits of a phone as written, without a +86 / 0086 prefix before 11 digits."""
    digits = _NOT_DIGIT.sub("", raw or "")
    for prefix in COUNTRY_PREFIXES:
        if digits.startswith(prefix) and len(digits) == len(prefix) + MOBILE_DIGITS:
            return digits[len(prefix) :]
    return digits
