"""A phone number's digits as the records keep them, the one rule for every place that
compares phones (the contact search, the duplicate check, the import, sign-in by phone).

Whatever way it was written (`131 7921 6444`, `+86 131-7921-6444`, `0086 13179216444`), a
mainland number is kept as its national digits: the country prefix of a mainland mobile is
dropped, so the same phone written two ways has one key.
"""

from __future__ import annotations

import re

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
