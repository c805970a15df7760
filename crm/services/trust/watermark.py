"""The stamp on each stored visit photo (issue 22, "Photos that prove a visit"): when the visit
was checked in (the install's clock), the factory's name, how far from the factory, and the rep,
in the rep's language, drawn in a dark band across the photo's bottom corner as DingTalk and
WeCom stamp their check-in photos. The stored photo carries it wherever it is shown or saved.

The font is kept with the app (crm/fonts): factory names and the rep's language need Chinese
glyphs, whatever the host has installed.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

from babel.dates import format_date
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from PIL import Image, ImageDraw, ImageFont

from crm import clock

FONT = Path(__file__).resolve().parents[2] / "fonts" / "wqy-microhei.ttc"
# The text's height as a share of the photo's long side, and never smaller than this (px).
SHARE, SMALLEST = 1 / 55, 14
# The band behind the text: black, three quarters opaque, so that light walls stay readable.
BAND = (0, 0, 0, 190)
TEXT = (255, 255, 255, 255)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT), size)


def lines(
    checked_in_at: datetime,
    factory_name: str,
    distance_m: float | None,
    rep_name: str,
    locale: str | None,
) -> list[str]:
    """The stamp's lines in the rep's language: the one they chose, else the one their phone
    asked for with this visit (English outside a request)."""
    local = clock.local(checked_in_at)
    language = locale or str(get_locale() or "en")
    with force_locale(language):
        day = format_date(local.date(), "medium", locale=language)
        if distance_m is None:
            where = _("No location")
        elif distance_m < 1000:
            where = _("%(metres)d m from the factory", metres=round(distance_m))
        else:
            where = _("%(km).1f km from the factory", km=distance_m / 1000)
    return [f"{day} {local:%H:%M}", factory_name, f"{where} · {rep_name}"]


def stamp(image: Image.Image, text: list[str]) -> None:
    """Draw the lines in a band across the photo's bottom left corner (in place)."""
    size = max(SMALLEST, round(max(image.size) * SHARE))
    font = _font(size)
    gap, margin = round(size * 0.35), round(size * 0.6)
    widths = [font.getlength(line) for line in text]
    width = min(image.width, round(max(widths, default=0)) + 2 * margin)
    height = len(text) * size + (len(text) - 1) * gap + 2 * margin
    top = image.height - height
    draw = ImageDraw.Draw(image, "RGBA")
    draw.rectangle((0, max(0, top), width, image.height), fill=BAND)
    for index, line in enumerate(text):
        draw.text((margin, top + margin + index * (size + gap)), line, font=font, fill=TEXT)
