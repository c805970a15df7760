"""Settings from the environment, production's refusal of a weak secret, SQLite's pragmas."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from config import DEVELOPMENT_SECRET, config_for
from crm import create_app
from crm.extensions import db, limiter


def test_production_refuses_the_development_secret(monkeypatch):
    monkeypatch.delenv("CRM_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="CRM_SECRET_KEY"):
        config_for("production")
    monkeypatch.setenv("CRM_SECRET_KEY", DEVELOPMENT_SECRET)
    with pytest.raises(RuntimeError, match="CRM_SECRET_KEY"):
        config_for("production")


def test_production_refuses_a_short_secret_and_accepts_a_long_one(monkeypatch):
    monkeypatch.setenv("CRM_SECRET_KEY", "short-secret")
    with pytest.raises(RuntimeError):
        config_for("production")
    monkeypatch.setenv("CRM_SECRET_KEY", "x" * 48)
    settings = config_for("production")
    assert settings.SESSION_COOKIE_SECURE and settings.REMEMBER_COOKIE_SECURE and settings.HSTS


def test_settings_are_read_from_crm_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("CRM_TIMEZONE", "Asia/Urumqi")
    monkeypatch.setenv("CRM_STORAGE_ROOT", str(tmp_path / "files"))
    monkeypatch.setenv("CRM_MAIL_SERVER", "mail.example.test")
    settings = config_for("development")
    assert settings.SQLALCHEMY_DATABASE_URI.endswith("/x.db")
    assert settings.CRM_TIMEZONE == "Asia/Urumqi"
    assert settings.CRM_STORAGE_ROOT.endswith("files")
    assert settings.MAIL_SERVER == "mail.example.test"


def test_the_upload_store_is_read_from_the_environment_and_a_folder_by_default(monkeypatch):
    from crm.services import storage
    from crm.services.storage.local import LocalStore
    from crm.services.storage.s3 import S3Store

    for name in ("CRM_STORAGE_URL", "CRM_S3_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    default = config_for("development")
    assert default.CRM_STORAGE_URL is None and default.AWS_REGION == "us-east-1"
    assert isinstance(storage.build(storage.settings(vars(default))), LocalStore)
    monkeypatch.setenv("CRM_STORAGE_URL", "s3://crm-uploads/ningbo")
    monkeypatch.setenv("CRM_S3_ENDPOINT_URL", "http://127.0.0.1:8333")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_REGION", "cn-east-1")
    chosen = storage.build(storage.settings(vars(config_for("development"))))
    assert isinstance(chosen, S3Store)
    assert (chosen.bucket, chosen.prefix) == ("crm-uploads", "ningbo")
    assert chosen.settings == ("http://127.0.0.1:8333", "key-id", "secret", "cn-east-1")
    with pytest.raises(ValueError, match="file:// or s3://"):
        storage.build(("ftp://nowhere", "", "", "", "", "us-east-1"))


def test_defaults_time_zone_shanghai_and_sqlite_in_the_instance_folder(monkeypatch):
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    monkeypatch.delenv("CRM_TIMEZONE", raising=False)
    app = create_app("development")
    assert app.config["CRM_TIMEZONE"] == "Asia/Shanghai"
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.instance_path in app.config["SQLALCHEMY_DATABASE_URI"]
    assert not app.config["CRM_STORAGE_ROOT"].startswith(app.static_folder)


def test_an_unknown_environment_name_is_refused(monkeypatch):
    monkeypatch.setenv("CRM_ENV", "staging")
    with pytest.raises(RuntimeError, match="CRM_ENV"):
        config_for()


def test_sqlite_enforces_foreign_keys_and_uses_wal(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/pragmas.db")
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        db.engine.dispose()


def test_every_testing_config_counts_its_rate_limits_apart():
    """Redis outlives a test run: a prefix shared by two runs (the plain "crm") let one run's
    spent per-user limit answer 429 in the next run, whose database hands out the same ids."""
    first, second = config_for("testing"), config_for("testing")
    assert first.RATELIMIT_KEY_PREFIX != second.RATELIMIT_KEY_PREFIX
    assert first.RATELIMIT_KEY_PREFIX.startswith(os.environ["CRM_RATELIMIT_PREFIX"] + "-test-")


def test_the_limiter_counts_this_run_apart_whichever_app_a_process_made_first(app):
    """Flask-Limiter keeps the prefix of the first app a process makes. In CI a worker that
    first made a production app kept the plain "crm" for every later test, and a per-user
    reset limit spent by the previous run within the hour answered 429 at once."""
    run = os.environ["CRM_RATELIMIT_PREFIX"]
    assert run.startswith("crm-run-")
    assert run == config_for("development").RATELIMIT_KEY_PREFIX
    assert limiter._key_prefix.startswith(run)


def test_the_pool_of_each_process_is_sized_from_the_environment_on_postgresql(monkeypatch):
    """docs/operations.md "Connection pooling": hosts × processes × (pool + overflow) must stay
    under the server's max_connections (or PgBouncer's)."""
    monkeypatch.setenv("CRM_DATABASE_URL", "postgresql+psycopg://db/crm")
    monkeypatch.setenv("CRM_DB_POOL_SIZE", "3")
    monkeypatch.setenv("CRM_DB_MAX_OVERFLOW", "2")
    assert config_for("development").SQLALCHEMY_ENGINE_OPTIONS == {
        "pool_size": 3,
        "max_overflow": 2,
    }
    monkeypatch.delenv("CRM_DB_POOL_SIZE")
    monkeypatch.delenv("CRM_DB_MAX_OVERFLOW")
    assert config_for("development").SQLALCHEMY_ENGINE_OPTIONS == {}
    # SQLite keeps SQLAlchemy's own pool for its kind of database.
    monkeypatch.setenv("CRM_DATABASE_URL", "sqlite:///x.sqlite3")
    monkeypatch.setenv("CRM_DB_POOL_SIZE", "3")
    assert config_for("development").SQLALCHEMY_ENGINE_OPTIONS == {}


def test_a_named_host_says_so_on_every_answer_and_an_unnamed_one_does_not(tmp_path):
    """Several hosts behind the proxy (docs/operations.md): X-CRM-Host tells which answered."""
    url = f"sqlite:///{tmp_path}/host.db"
    named = create_app("testing", SQLALCHEMY_DATABASE_URI=url, CRM_HOST_NAME="app2")
    assert named.test_client().get("/healthz").headers["X-CRM-Host"] == "app2"
    plain = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    assert "X-CRM-Host" not in plain.test_client().get("/healthz").headers


def test_each_host_may_keep_its_instance_folder_where_its_operator_says(monkeypatch, tmp_path):
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    monkeypatch.delenv("CRM_STORAGE_ROOT", raising=False)
    monkeypatch.setenv("CRM_INSTANCE_PATH", str(tmp_path / "host-a"))
    app = create_app("development")
    assert app.instance_path == str(tmp_path / "host-a")
    assert app.config["CRM_STORAGE_ROOT"] == str(tmp_path / "host-a" / "storage")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/host-a/crm.sqlite3"


def _seen_through_proxy(trust: bool, tmp_path) -> dict:
    """What the app takes for the client's address, scheme and host behind a proxy."""
    from flask import jsonify, request
    from flask_limiter.util import get_remote_address

    from crm import scope

    app = create_app(
        "testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/proxy.db", CRM_TRUST_PROXY=trust
    )

    @scope.allow("public")
    def seen():
        return jsonify(
            address=request.remote_addr,
            limited_as=get_remote_address(),
            scheme=request.scheme,
            host=request.host,
            secure=request.is_secure,
        )

    app.add_url_rule("/_seen", "seen", seen)
    headers = {
        # What the client sent, then what deploy/nginx/crm.conf's proxy says it saw.
        "X-Forwarded-For": "198.51.100.1, 203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "crm.example.com",
    }
    return app.test_client().get("/_seen", headers=headers).get_json()


def test_behind_the_proxy_the_app_sees_the_client_its_scheme_and_host(tmp_path):
    """CRM_TRUST_PROXY=1 (docs/operations.md "The proxy"): one proxy hop is believed, so the
    sign-in limits key on the client's address and cookies and CSRF see HTTPS; the address a
    client put in the header itself is not believed. tests/unit/test_cluster.py proves the same
    through nginx."""
    assert _seen_through_proxy(True, tmp_path) == {
        "address": "203.0.113.7",
        "limited_as": "203.0.113.7",
        "scheme": "https",
        "host": "crm.example.com",
        "secure": True,
    }
    untrusted = _seen_through_proxy(False, tmp_path)
    assert untrusted["address"] == "127.0.0.1" and untrusted["scheme"] == "http"
