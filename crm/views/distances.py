"""Distances in words, in the reader's language: how far a factory, a stop or a check-in is
("80 m", "2.4 km", "35 km"), and a map's scale bar."""

from __future__ import annotations

from babel import numbers
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _

from crm.views.kept import words_once


def format_distance(metres: float) -> str:
    """ "80 m", "2.4 km", "35 km": as precise as a person walking or driving needs. A route
    repeats it on each of up to 200 stops: its words and the locale's symbols are read once."""
    words = words_once("distance", _distance_words)
    if metres < 1000:
        return words["m"].replace("{d}", _number(max(10, round(metres, -1)), 0))
    if metres < 10_000:
        return words["km"].replace("{d}", _number(metres / 1000, 1))
    return words["km"].replace("{d}", _number(round(metres / 1000), 0))


def _distance_words() -> dict[str, str]:
    locale = get_locale()
    return {
        "m": _("%(distance)s m", distance="{d}"),
        "km": _("%(distance)s km", distance="{d}"),
        "decimal": numbers.get_decimal_symbol(locale),
        "group": numbers.get_group_symbol(locale),
    }


def _number(value: float, decimals: int) -> str:
    """A number as format_decimal writes it ("#,##0" or "#,##0.0"), in the locale's symbols."""
    words = words_once("distance", _distance_words)
    text = f"{value:,.{decimals}f}"
    return text.translate({ord(","): words["group"], ord("."): words["decimal"]})


def format_scale(metres: int) -> str:
    """A scale bar's round distance: "500 m", "2 km", "1,000 km"."""
    if metres < 1000:
        return _("%(distance)s m", distance=format_decimal(metres, "#,##0"))
    return _("%(distance)s km", distance=format_decimal(metres // 1000, "#,##0"))
