"""Small files that cost the server much, or trip its readers: built here, byte by byte.

Each is what an attacker (or a damaged phone) sends: a PNG whose header declares far more
pixels than its bytes hold, photos whose EXIF block is broken, an xlsx whose sheet declares a
dimension it does not hold. None of them is made by decoding a large image in the test.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

from openpyxl import Workbook
from PIL import Image


def png_bomb(width: int = 12_000, height: int = 12_000) -> bytes:
    """A one-bit grey PNG of `width`×`height` black pixels: about 17 KB at 12000×12000."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + bytes((width + 7) // 8)  # filter "none", then the row's bits
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def broken_exif(kind: str) -> bytes:
    """A PNG or WebP whose EXIF block is not a TIFF structure (its header is garbage)."""
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 40)).save(buffer, kind, exif=b"garbage, not EXIF")
    return buffer.getvalue()


def jpeg_with_nan_exif() -> bytes:
    """A JPEG turned on its side (orientation 6) whose EXIF holds a NaN double (x resolution)."""
    entries = [
        struct.pack("<HHI", 0x0112, 3, 1) + struct.pack("<H", 6).ljust(4, b"\x00"),
        struct.pack("<HHII", 0x011A, 12, 1, 8 + 2 + 2 * 12 + 4),
    ]
    tiff = (
        b"II*\x00"
        + struct.pack("<I", 8)
        + struct.pack("<H", len(entries))
        + b"".join(entries)
        + b"\x00\x00\x00\x00"
        + struct.pack("<d", float("nan"))
    )
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 40)).save(buffer, "JPEG", exif=b"Exif\x00\x00" + tiff)
    return buffer.getvalue()


def xlsx_with_dimension(rows: dict[int, list], dimension: str) -> bytes:
    """An xlsx holding `rows` (by line number) whose sheet declares `dimension` instead of the
    range it holds: the sheet's XML is edited inside the zip, as a forger would."""
    workbook = Workbook()
    sheet = workbook.active
    for line, values in rows.items():
        for column, value in enumerate(values, start=1):
            sheet.cell(row=line, column=column, value=value)
    plain = io.BytesIO()
    workbook.save(plain)
    forged = io.BytesIO()
    with (
        zipfile.ZipFile(plain) as source,
        zipfile.ZipFile(forged, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, count = re.subn(
                    rb'<dimension ref="[^"]*"', f'<dimension ref="{dimension}"'.encode(), data
                )
                assert count == 1, "the sheet has no dimension to forge"
            out.writestr(item, data)
    return forged.getvalue()
