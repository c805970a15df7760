"""The unified social credit code (统一社会信用代码) of GB 32100-2015, check digit included."""

from __future__ import annotations

import re

from flask_babel import gettext as _

# The 31 characters the standard uses: digits and upper-case letters without I, O, Z, S, V.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Position 1: registering authority; position 2: kind of entity within it.
AUTHORITIES = "123456789ABCDEFGNY"
LENGTH = 18
_SHAPE = re.compile(rf"^[{ALPHABET}]{{2}}\d{{6}}[{ALPHABET}]{{10}}$")


def normalise(raw: str) -> str:
    """Upper case, without the spaces and dashes people type."""
    return re.sub(r"[\s\-]", "", raw or "").upper()


def check_digit(first17: str) -> str:
    total = sum(
        ALPHABET.index(char) * weight for char, weight in zip(first17, WEIGHTS, strict=True)
    )
    return ALPHABET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """Why a (normalised) code is not valid, in words for a person, or None when it is."""
    if len(code) != LENGTH:
        return _(
            "A credit code has %(length)d characters; this one has %(count)d.",
            length=LENGTH,
            count=len(code),
        )
    if not _SHAPE.match(code):
        return _(
            "A credit code uses digits and the letters A-Y without I, O, S, V, Z; "
            "characters 3 to 8 are the region's six digits."
        )
    if code[0] not in AUTHORITIES:
        return _("The first character is not a registering authority's code.")
    if check_digit(code[:17]) != code[17]:
        return _("The last character (the check digit) does not match: check for a typo.")
    return None


def is_valid(raw: str) -> bool:
    return problem(normalise(raw)) is None
