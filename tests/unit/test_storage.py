"""The upload store's contract, on both back ends in every run: a folder and a real S3 server
(SeaweedFS, tests/s3server.py). Write, read, a range, delete, a day's listing, a missing key
answered 404 through the route, the sweep of files no row names, and `flask crm storage migrate`
(resumable, verified by hash)."""

from __future__ import annotations

import hashlib
import io
import secrets
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from crm.errors import NotFound
from crm.extensions import db
from crm.services import storage
from crm.services.field import photos, voice_notes
from crm.services.install import stored_files
from crm.services.storage import migrate
from crm.services.storage.local import LocalStore
from crm.services.storage.s3 import S3Store
from tests import builders
from tests.web.helpers import sign_in

DAY = "2026-12-05"


@pytest.fixture(params=["local", "s3"])
def kept(request, app, monkeypatch, tmp_path) -> storage.Store:
    """The app's store for this test: a new folder, or a new prefix of the S3 server's bucket."""
    monkeypatch.setitem(app.config, "CRM_STORAGE_ROOT", str(tmp_path / "storage"))
    settings = {"CRM_STORAGE_URL": ""}
    if request.param == "s3":
        settings = request.getfixturevalue("s3_server").env(f"contract-{secrets.token_hex(6)}")
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)
    chosen = storage.store()
    assert isinstance(chosen, LocalStore if request.param == "local" else S3Store)
    return chosen


def test_a_written_file_reads_back_whole_and_by_its_size(kept):
    kept.write(f"photos/{DAY}/a.jpg", b"\xff\xd8\xff photo", "image/jpeg")
    kept.write(f"voice/{DAY}/b.webm", io.BytesIO(b"a voice note"), "audio/webm")
    assert kept.read(f"photos/{DAY}/a.jpg") == b"\xff\xd8\xff photo"
    assert kept.read(f"voice/{DAY}/b.webm") == b"a voice note"
    assert kept.size(f"voice/{DAY}/b.webm") == 12
    assert kept.exists(f"photos/{DAY}/a.jpg") and not kept.exists(f"photos/{DAY}/c.jpg")
    assert kept.size(f"photos/{DAY}/c.jpg") is None
    assert kept.probe() is None


def test_a_range_is_read_and_the_stream_seeks(kept):
    data = bytes(range(256)) * 40
    kept.write("voice/x.ogg", data, "audio/ogg")
    assert kept.read_range("voice/x.ogg", 100, 199) == data[100:200]
    opened = kept.open("voice/x.ogg")
    with opened.stream as stream:
        assert opened.size == len(data) and opened.etag
        assert stream.read(10) == data[:10]
        stream.seek(5000)
        assert stream.read(20) == data[5000:5020]
        stream.seek(-4, io.SEEK_END)
        assert stream.read() == data[-4:]


def test_a_deleted_file_is_gone_and_deleting_it_again_is_no_error(kept):
    kept.write("photos/gone.jpg", b"x", "image/jpeg")
    kept.delete("photos/gone.jpg")
    kept.delete("photos/gone.jpg")
    assert not kept.exists("photos/gone.jpg")
    with pytest.raises(NotFound):
        kept.read("photos/gone.jpg")
    with pytest.raises(NotFound):
        kept.open("photos/gone.jpg")


def test_a_days_listing_holds_that_days_files_only(kept):
    for day, name in ((DAY, "a"), (DAY, "b"), ("2026-12-06", "c")):
        kept.write(f"photos/{day}/{name}.jpg", name.encode() * 3, "image/jpeg")
    kept.write(f"voice/{DAY}/d.webm", b"d", "audio/webm")
    listed = sorted(kept.list(f"photos/{DAY}/"), key=lambda entry: entry.key)
    assert [(entry.key, entry.size) for entry in listed] == [
        (f"photos/{DAY}/a.jpg", 3),
        (f"photos/{DAY}/b.jpg", 3),
    ]
    now = datetime.now(UTC)
    assert all(
        now - timedelta(minutes=5) < entry.modified < now + timedelta(minutes=5) for entry in listed
    )
    assert list(kept.list("photos/2026-12-07/")) == []


def test_photos_and_notes_are_served_through_the_route_with_ranges_and_a_missing_one_is_404(
    app, db_session, kept
):
    rep = builders.user("rep", team_=builders.team())
    factory = builders.factory(builders.belt(rep.team), owner=rep)
    visit = builders.visit(factory, rep)
    photo = builders.visit_photo(visit)
    note = builders.visit_voice_note(visit)
    db_session.commit()
    client = app.test_client()
    sign_in(client, rep.email)

    served = client.get(f"/visits/{visit.id}/photos/{photo.id}")
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["Cache-Control"] == "private, max-age=3600"
    assert served.headers["Accept-Ranges"] == "bytes" and served.headers["ETag"]
    assert served.data == kept.read(photos.key_of(photo.stored_name))
    audio = kept.read(voice_notes.key_of(note.stored_name, note.content_type))
    part = client.get(f"/visits/{visit.id}/voice", headers={"Range": "bytes=10-29"})
    assert part.status_code == 206 and part.data == audio[10:30]
    assert part.headers["Content-Range"] == f"bytes 10-29/{len(audio)}"
    assert part.headers["Content-Type"] == "audio/webm"

    kept.delete(photos.key_of(photo.stored_name))
    assert client.get(f"/visits/{visit.id}/photos/{photo.id}").status_code == 404


def test_the_sweep_deletes_a_day_old_file_no_row_names_and_keeps_the_named(db_session, kept):
    """Real times (a bucket keeps the time of writing): the sweep runs a day and more later."""
    rep = builders.user("rep", team_=builders.team())
    named = builders.visit_photo(builders.visit(builders.factory(builders.belt(rep.team)), rep))
    data = builders.image_bytes(41, 30)
    orphan = photos.store(photos.Upload(data=data, sha256=hashlib.sha256(data).hexdigest()))
    later = datetime.now(UTC) + timedelta(days=1, hours=1)
    totals: Counter = Counter()
    for counts in stored_files.sweep_orphans(db.session, later):
        totals.update(counts)
    assert totals["orphan_files_removed"] == 1
    assert not kept.exists(photos.key_of(orphan.stored_name))
    assert not kept.exists(photos.key_of(orphan.stored_name, thumbnail=True))
    assert kept.exists(photos.key_of(named.stored_name, thumbnail=True))


# --- flask crm storage migrate ---------------------------------------------------------------


@pytest.fixture
def folder_and_bucket(app, tmp_path, monkeypatch, s3_server):
    """A folder of ten files, and the app pointed at an empty prefix of the bucket."""
    source = LocalStore(str(tmp_path / "storage"))
    for n in range(10):
        source.write(f"photos/{DAY}/{n:02d}.jpg", secrets.token_bytes(300 + n), "image/jpeg")
    source.write("voice/old-note.webm", b"a note from before the day folders", "audio/webm")
    monkeypatch.setitem(app.config, "CRM_STORAGE_ROOT", str(source.root))
    for name, value in s3_server.env(f"migrated-{secrets.token_hex(6)}").items():
        monkeypatch.setitem(app.config, name, value)
    return source, storage.store()


def run_migrate(app):
    with app.app_context():
        return app.test_cli_runner().invoke(args=["crm", "storage", "migrate"])


def test_migrate_copies_the_folder_into_the_bucket_and_resumes_after_a_stop(
    app, folder_and_bucket, monkeypatch
):
    source, bucket = folder_and_bucket
    writes = 0
    write = S3Store.write

    def stops_after_four(self, key, data, content_type):
        nonlocal writes
        if writes == 4:
            raise KeyboardInterrupt  # the operator's Ctrl-C, or the host going down
        writes += 1
        write(self, key, data, content_type)

    with monkeypatch.context() as stopped:
        stopped.setattr(S3Store, "write", stops_after_four)
        with pytest.raises(KeyboardInterrupt):
            migrate.migrate(source, bucket)
    assert len(list(bucket.list(""))) == 4

    result = run_migrate(app)
    assert result.exit_code == 0, result.output
    assert "copied 7, skipped 4 (already there), failed 0" in result.output
    for entry in source.list(""):
        assert bucket.read(entry.key) == source.read(entry.key)
    again = run_migrate(app)
    assert "copied 0, skipped 11 (already there), failed 0" in again.output


def test_migrate_finds_a_corrupted_object_by_its_hash_and_copies_it_again(app, folder_and_bucket):
    source, bucket = folder_and_bucket
    assert "copied 11," in run_migrate(app).output
    key = f"photos/{DAY}/03.jpg"
    damaged = bytearray(source.read(key))
    damaged[100] ^= 0xFF  # the same size, other bytes
    bucket.write(key, bytes(damaged), "image/jpeg")
    result = run_migrate(app)
    assert "copied 1, skipped 10 (already there), failed 0" in result.output
    assert bucket.read(key) == source.read(key)


@pytest.mark.usefixtures("folder_and_bucket")
def test_migrate_reports_a_copy_whose_hash_differs_and_ends_non_zero(app, monkeypatch):
    write = S3Store.write

    def garbles(self, key, data, content_type):
        body = data.read() if hasattr(data, "read") else data
        write(
            self,
            key,
            body[:-1] + bytes([body[-1] ^ 1]) if key.endswith("05.jpg") else body,
            content_type,
        )

    monkeypatch.setattr(S3Store, "write", garbles)
    result = run_migrate(app)
    assert result.exit_code == 1
    assert "copied 10, skipped 0 (already there), failed 1" in result.output
    assert f"failed: photos/{DAY}/05.jpg: the copy's hash differs" in result.output


def test_migrate_needs_a_bucket(app, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "CRM_STORAGE_URL", "")
    result = run_migrate(app)
    assert result.exit_code == 2 and "CRM_STORAGE_URL=s3://" in result.output
