"""`flask crm backup`: SQLite's online backup to a file, and a restore that brings the data back;
on PostgreSQL it refuses and gives the pg_dump recipe."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from crm import create_app
from crm.extensions import db
from crm.models import Factory
from crm.services.growth import catalogue
from tests import builders


@pytest.fixture
def install(tmp_path):
    """A SQLite install of its own (a file), with a few factories committed."""
    path = tmp_path / "crm.sqlite3"
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}",
        CRM_STORAGE_ROOT=str(tmp_path / "storage"),
    )
    with app.app_context():
        upgrade()
        catalogue.install_defaults()
        team = builders.team()
        belt = builders.belt(team)
        rep = builders.user("rep", team_=team)
        for n in range(3):
            builders.factory(belt, owner=rep, name=f"Kept factory {n}")
        db.session.commit()
        yield app, path
        db.session.remove()
        db.engine.dispose()


def names() -> list[str]:
    db.session.rollback()
    return sorted(db.session.scalars(select(Factory.name)))


def backup(app, *arguments: str):
    # Its own app context: the command reads current_app, which would otherwise be whatever
    # app an earlier test of this worker left pushed (the suite's own, on its test database).
    with app.app_context():
        return app.test_cli_runner().invoke(args=["crm", "backup", *arguments])


def test_back_up_change_restore_and_the_data_is_back(install, tmp_path):
    app, path = install
    copy = tmp_path / "backups" / "crm-2026-11-25.sqlite3"
    copy.parent.mkdir()
    result = backup(app, str(copy))
    assert result.exit_code == 0, result.output
    assert f"backed up {path} to {copy}" in result.output
    kept = names()
    assert kept == ["Kept factory 0", "Kept factory 1", "Kept factory 2"]

    # The install changes after the backup: a factory renamed, one deleted, one added.
    first, second = db.session.scalars(select(Factory).order_by(Factory.id).limit(2))
    first.name = "Renamed after the backup"
    db.session.delete(second)
    builders.factory(first.belt, owner=first.owner, name="Added after the backup")
    db.session.commit()
    assert names() != kept

    # Restore as the README says: stop the app, put the copy in the database's place.
    db.session.remove()
    db.engine.dispose()
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(copy, path)
    assert names() == kept
    assert db.session.scalar(select(func.count()).select_from(Factory)) == 3


def test_the_backup_is_online_a_writer_in_the_middle_does_not_stop_it(install, tmp_path):
    app, path = install
    writer = sqlite3.connect(path)
    writer.execute("BEGIN IMMEDIATE")  # holds the write lock, uncommitted, through the backup
    writer.execute("UPDATE factories SET name = 'Uncommitted' WHERE name = 'Kept factory 0'")
    copy = tmp_path / "online.sqlite3"
    try:
        result = backup(app, str(copy))
    finally:
        writer.rollback()
        writer.close()
    assert result.exit_code == 0, result.output
    with sqlite3.connect(copy) as restored:
        stored = sorted(row[0] for row in restored.execute("SELECT name FROM factories"))
        (mode,) = restored.execute("PRAGMA journal_mode").fetchone()
    assert stored == ["Kept factory 0", "Kept factory 1", "Kept factory 2"]  # the last commit
    assert mode == "delete"  # one self-contained file


def test_it_refuses_to_overwrite_without_force_or_to_copy_onto_itself(install, tmp_path):
    app, path = install
    copy = tmp_path / "taken.sqlite3"
    copy.write_text("an older backup")
    refused = backup(app, str(copy))
    assert refused.exit_code == 2 and "--force" in refused.output
    assert copy.read_text() == "an older backup"
    assert backup(app, "--force", str(copy)).exit_code == 0
    with sqlite3.connect(copy) as restored:
        assert restored.execute("SELECT count(*) FROM factories").fetchone() == (3,)
    onto_itself = backup(app, "--force", str(path))
    assert onto_itself.exit_code == 2 and "another file" in onto_itself.output


def test_on_postgresql_it_points_to_pg_dump(tmp_path):
    app = create_app(
        "testing", SQLALCHEMY_DATABASE_URI="postgresql+psycopg://crm:s3cret@db.internal:5432/crm"
    )
    result = backup(app, str(tmp_path / "crm.dump"))
    assert result.exit_code == 2
    assert "pg_dump --format=custom" in result.output
    assert "postgresql://crm:***@db.internal:5432/crm" in result.output
    assert "s3cret" not in result.output and 'README.md "Backups"' in result.output
    assert not (tmp_path / "crm.dump").exists()


# --- the uploads: not in the copy, named with how to back them up ----------------------------


def test_it_names_the_storage_folder_to_copy_with_the_database(install, tmp_path):
    app, _path = install
    result = backup(app, str(tmp_path / "with-files.sqlite3"))
    assert result.exit_code == 0, result.output
    folder = tmp_path / "storage"
    assert f"Uploads are not in this backup: they are files under {folder}" in result.output
    assert f"rsync -a {folder}/" in result.output


def test_with_a_bucket_it_names_the_bucket_and_its_own_backup(install, tmp_path, s3_server):
    app, _path = install
    app.config.update(s3_server.env("backed-up"))
    result = backup(app, str(tmp_path / "with-bucket.sqlite3"))
    assert result.exit_code == 0, result.output
    assert f"objects in s3://{s3_server.bucket}/backed-up at {s3_server.endpoint}" in result.output
    assert "aws s3 sync" in result.output and "versioning or replication" in result.output


def test_on_postgresql_it_names_the_uploads_too(tmp_path, s3_server):
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://crm@db.internal:5432/crm",
        **s3_server.env("pg"),
    )
    result = backup(app, str(tmp_path / "crm.dump"))
    assert result.exit_code == 2 and "pg_dump" in result.output
    assert f"objects in s3://{s3_server.bucket}/pg" in result.output
