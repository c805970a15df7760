"""Bounded work per upload: a small file never makes the server decode or pad far more than it
holds (issue 19, point 5).

The memory a file costs is measured in a process of its own (ru_maxrss, the process's peak, before
and after), so that nothing the test session holds hides it. Bounds are far looser than what was
measured after the change and far below what the same file cost before it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from crm.errors import Invalid
from crm.services.field import photos
from crm.services.imports import import_formats
from tests import builders, hostile_files

ROOT = Path(__file__).resolve().parents[2]
HEADER = ["Unified social credit code", "Factory name", "Belt"]
# Before the change, the 12000×12000 photo grew the process by ~690 MB and the xlsx that declares
# A1:XFD6000 by ~600 MB; after it, each grows it by a few MB.
GROWTH_BOUND_MB = 60
SECONDS_BOUND = 10


def upload(data: bytes, field: str = "photos") -> photos.Upload:
    return photos.Upload(data=data, sha256=hashlib.sha256(data).hexdigest(), field=field)


def cost(build: str, work: str) -> dict:
    """Peak memory growth (MB), seconds and refusal of `work` on the file `build` makes, measured
    in a fresh process with the app's context (its messages are translated)."""
    script = textwrap.dedent(
        f"""
        import json, resource, sys, tempfile, time
        from crm import create_app
        from crm.errors import Invalid
        from crm.services.field import photos
        from crm.services.imports import import_formats
        from tests import hostile_files
        from tests.unit.test_upload_bounds import upload

        app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://",
                         CRM_STORAGE_ROOT=tempfile.mkdtemp(prefix="crm-bounds-"))
        data = {build}
        with app.test_request_context():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            try:
                {work}
                fields = {{}}
            except Invalid as error:
                fields = error.fields
            seconds = time.perf_counter() - start
            grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(json.dumps({{"mb": grown / 1024, "seconds": seconds, "fields": fields}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


# --- photos --------------------------------------------------------------------------------


def test_a_photo_that_declares_12000_by_12000_pixels_is_refused_before_it_is_decoded():
    measured = cost("hostile_files.png_bomb()", "photos.prepare(upload(data))")
    message = measured["fields"]["photos"]
    assert "12000×12000 pixels" in message and "at most 40 megapixels" in message
    assert measured["mb"] < GROWTH_BOUND_MB, measured
    assert measured["seconds"] < SECONDS_BOUND, measured


def test_six_such_photos_in_one_visit_cost_no_more_than_one():
    measured = cost(
        "[hostile_files.png_bomb()] * photos.PHOTOS_MAX",
        "[photos.prepare(upload(one)) for one in data]",
    )
    assert "photos" in measured["fields"]
    assert measured["mb"] < GROWTH_BOUND_MB, measured
    assert measured["seconds"] < SECONDS_BOUND, measured


def test_the_budget_is_checked_on_the_header_not_by_pillows_bomb_error(app):
    # Far past Pillow's own limit (which raises before any check of ours could name the size).
    with app.test_request_context(), pytest.raises(Invalid) as refused:
        photos.check(upload(hostile_files.png_bomb(30_000, 30_000)))
    assert "at most 40 megapixels" in refused.value.fields["photos"]


def test_a_photo_within_the_budget_is_kept_and_shrunk(app):
    with app.test_request_context():
        image = photos.prepare(upload(builders.image_bytes(4000, 3000)))
    assert image.size == (1600, 1200) and image.mode == "RGB"


def test_a_sideways_jpeg_is_still_turned_upright(app):
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: the picture is to be turned 90° clockwise
    data = builders.image_bytes(40, 30, exif=exif.tobytes())
    with app.test_request_context():
        assert photos.prepare(upload(data)).size == (30, 40)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(hostile_files.broken_exif("PNG"), id="PNG, broken EXIF"),
        pytest.param(hostile_files.broken_exif("WEBP"), id="WebP, broken EXIF"),
        pytest.param(hostile_files.jpeg_with_nan_exif(), id="JPEG, NaN in EXIF"),
    ],
)
def test_a_photo_whose_exif_cannot_be_read_is_refused_by_its_field(app, data):
    with app.test_request_context(), pytest.raises(Invalid) as refused:
        photos.prepare(upload(data, field="photo"))
    assert list(refused.value.fields) == ["photo"]
    assert "EXIF" in refused.value.fields["photo"]


# --- spreadsheets --------------------------------------------------------------------------


def test_an_xlsx_that_declares_16384_columns_is_read_as_the_cells_it_holds():
    measured = cost(
        "hostile_files.xlsx_with_dimension({1: "
        + repr(HEADER)
        + ", 6000: ['91330784MA2EXAMPLE', 'Hengda', 'yongkang']}, 'A1:XFD6000')",
        "sheet = import_formats.read(data, 'factories.xlsx'); "
        "assert [len(row) for row in sheet.rows] == [4], sheet.rows",
    )
    assert measured["fields"] == {}
    assert measured["mb"] < GROWTH_BOUND_MB, measured
    assert measured["seconds"] < SECONDS_BOUND, measured


def test_an_xlsx_that_declares_fewer_rows_than_it_holds_is_read_whole():
    rows = {1: HEADER, **{line: [f"code-{line}", "Hengda", "yongkang"] for line in range(2, 12)}}
    data = hostile_files.xlsx_with_dimension(rows, "A1:C2")
    sheet = import_formats.read(data, "factories.xlsx")
    assert [row[0] for row in sheet.rows] == list(range(2, 12))
    assert sheet.rows[-1] == [11, "code-11", "Hengda", "yongkang"]


def test_cells_past_the_header_are_not_kept(app):
    data = hostile_files.xlsx_with_dimension(
        {1: HEADER, 2: ["code", "Hengda", "yongkang", *[""] * 5, "stray"]}, "A1:I2"
    )
    sheet = import_formats.read(data, "factories.xlsx")
    assert sheet.headers == HEADER and sheet.rows == [[2, "code", "Hengda", "yongkang"]]


def test_a_header_past_the_column_limit_is_refused(app):
    wide = [f"Column {n}" for n in range(1, import_formats.MAX_COLUMNS + 2)]
    data = hostile_files.xlsx_with_dimension({1: wide, 2: ["x"]}, "A1:B2")
    with app.test_request_context(), pytest.raises(Invalid) as refused:
        import_formats.read(data, "factories.xlsx")
    assert "more than 60 columns" in refused.value.fields["file"]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_file_past_the_row_limit_is_refused_while_it_is_read(app, monkeypatch, file_format):
    monkeypatch.setattr(import_formats, "MAX_ROWS", 3)
    rows = [HEADER, *[[f"code-{n}", "Hengda", "yongkang"] for n in range(5)]]
    if file_format == "csv":
        data = "\r\n".join(",".join(row) for row in rows).encode()
    else:
        data = hostile_files.xlsx_with_dimension(dict(enumerate(rows, start=1)), "A1:C6")
    with app.test_request_context(), pytest.raises(Invalid) as refused:
        import_formats.read(data, f"factories.{file_format}")
    assert "more than 3 rows; import at most 3 at a time" in refused.value.fields["file"]
