"""Makes the home-screen icons of the web app manifest (crm/static/img/icons/), run once:
`.venv/bin/python docs/make_icons.py`; the PNGs are committed, so nothing runs at start-up.

The mark is three rising bars (growth) in white on the top bar's blue. The plain icons are a
rounded square; the maskable ones fill the square and keep the mark inside the central 52 %,
well within the circle of the "safe zone" that a phone's mask leaves (80 % across).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BLUE = (30, 58, 138, 255)  # --accent-strong of crm/static/css/app.css
WHITE = (255, 255, 255, 255)
FOLDER = Path(__file__).resolve().parents[1] / "crm" / "static" / "img" / "icons"
SCALE = 4  # drawn four times larger and shrunk, for smooth edges


def bars(draw: ImageDraw.ImageDraw, size: int, inset: float) -> None:
    """Three bars rising left to right, inside a square `inset` of the size from each edge."""
    left, bottom = size * inset, size * (1 - inset)
    width = size * (1 - 2 * inset)
    bar, gap = width * 0.26, width * 0.11
    for index, height in enumerate((0.45, 0.7, 1.0)):
        x = left + index * (bar + gap)
        draw.rounded_rectangle(
            (x, bottom - width * height, x + bar, bottom), radius=bar * 0.2, fill=WHITE
        )


def icon(size: int, maskable: bool) -> Image.Image:
    big = size * SCALE
    image = Image.new("RGBA", (big, big), BLUE if maskable else (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if not maskable:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.18, fill=BLUE)
    bars(draw, big, 0.24 if maskable else 0.16)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        icon(size, maskable=False).save(FOLDER / f"icon-{size}.png", optimize=True)
        icon(size, maskable=True).save(FOLDER / f"maskable-{size}.png", optimize=True)


if __name__ == "__main__":
    main()
