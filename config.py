"""Settings an operator sets, read from CRM_* environment variables (DESIGN.md "Settings")."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# Secrets that must never run a production install: the development default and
# anything shorter than 32 characters.
DEVELOPMENT_SECRET = "dev-only-secret-not-for-production"
MIN_SECRET_LENGTH = 32


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


class Config:
    """Defaults shared by every environment; the environment is read when one is made."""

    ENV_NAME = "base"

    def __init__(self) -> None:
        self.read_environment()

    def read_environment(self) -> None:
        self.SECRET_KEY = _env("CRM_SECRET_KEY", DEVELOPMENT_SECRET)
        # None means "a file in the instance folder"; create_app fills it in.
        self.SQLALCHEMY_DATABASE_URI = _env("CRM_DATABASE_URL")
        self.SQLALCHEMY_ENGINE_OPTIONS: dict = {}
        # PostgreSQL: the connections each process keeps open and may add at a peak
        # (SQLAlchemy's defaults, 5 and 10, when unset); docs/operations.md "Connection pooling".
        if (self.SQLALCHEMY_DATABASE_URI or "").startswith("postgresql"):
            for option, name in (
                ("pool_size", "CRM_DB_POOL_SIZE"),
                ("max_overflow", "CRM_DB_MAX_OVERFLOW"),
            ):
                if _env(name) is not None:
                    self.SQLALCHEMY_ENGINE_OPTIONS[option] = int(_env(name))
        # SQLite: how long a writer waits for the write lock before answering 503 (README "SQLite").
        self.CRM_SQLITE_BUSY_SECONDS = float(_env("CRM_SQLITE_BUSY_SECONDS", "10") or 10)
        # PostgreSQL's cost of a page read out of order, set on each of the app's connections:
        # the server's default (4) prices a spinning disk, and with it the planner reads a whole
        # table rather than a team's rows by an index. 1.1 suits data on SSD or in memory;
        # "server" leaves the server's own setting.
        self.CRM_PG_RANDOM_PAGE_COST = _env("CRM_PG_RANDOM_PAGE_COST", "1.1")
        self.CRM_TIMEZONE = _env("CRM_TIMEZONE", "Asia/Shanghai")
        # The instance folder (an absolute path): the SQLite file and the local store live there
        # unless told otherwise. None: instance/ beside the code. Each host has its own.
        self.CRM_INSTANCE_PATH = _env("CRM_INSTANCE_PATH")
        # Uploaded files live outside the static folder; None means instance/storage.
        self.CRM_STORAGE_ROOT = _env("CRM_STORAGE_ROOT")
        # Where uploads are kept (crm.services.storage): unset or file://... the folder above;
        # s3://bucket/prefix an S3-compatible bucket, at CRM_S3_ENDPOINT_URL (unset: AWS) with
        # the AWS_* keys and region. The bucket is made by the operator, never by the app.
        self.CRM_STORAGE_URL = _env("CRM_STORAGE_URL")
        self.CRM_S3_ENDPOINT_URL = _env("CRM_S3_ENDPOINT_URL")
        self.AWS_ACCESS_KEY_ID = _env("AWS_ACCESS_KEY_ID")
        self.AWS_SECRET_ACCESS_KEY = _env("AWS_SECRET_ACCESS_KEY")
        self.AWS_REGION = _env("AWS_REGION", "us-east-1")
        self.CRM_REDIS_URL = _env("CRM_REDIS_URL")
        # Behind a reverse proxy (deploy/nginx/crm.conf): the client's address, scheme and host
        # come from the proxy's X-Forwarded-For, -Proto and -Host (one proxy in front).
        self.CRM_TRUST_PROXY = _env("CRM_TRUST_PROXY", "0") == "1"
        # A name for this app host (app1); when set, every answer names it in X-CRM-Host, so an
        # operator (and tests/cluster) can tell which host of several behind the proxy answered.
        self.CRM_HOST_NAME = _env("CRM_HOST_NAME", "")

        # No server: mails are written to the log instead (development), never lost silently.
        self.MAIL_SERVER = _env("CRM_MAIL_SERVER")
        self.MAIL_PORT = int(_env("CRM_MAIL_PORT", "25") or 25)
        self.MAIL_USE_TLS = _env("CRM_MAIL_USE_TLS", "0") == "1"
        self.MAIL_USERNAME = _env("CRM_MAIL_USERNAME")
        self.MAIL_PASSWORD = _env("CRM_MAIL_PASSWORD")
        self.MAIL_SENDER = _env("CRM_MAIL_SENDER", "Factory Growth CRM <crm@localhost>")

        # The address that links in e-mails start with (https://crm.example.com); none: no links.
        self.CRM_BASE_URL = _env("CRM_BASE_URL", "")
        # `make run` sets this: the development server runs the scheduler in a thread of its own.
        # Web workers (gunicorn) never do, whatever this says (crm.jobs.scheduler).
        self.CRM_SCHEDULER_IN_DEV_SERVER = _env("CRM_SCHEDULER_IN_DEV_SERVER", "0") == "1"

        self.MAX_CONTENT_LENGTH = 40 * 1024 * 1024
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_DURATION = 30 * 24 * 3600
        self.SESSION_PROTECTION = "basic"  # a rep's mobile address changes all day

        self.BABEL_DEFAULT_LOCALE = "en"
        self.BABEL_DEFAULT_TIMEZONE = "UTC"
        self.LANGUAGES = ("en", "zh_Hans")

        # Flask-Limiter: memory in development, Redis where several workers share limits.
        self.RATELIMIT_STORAGE_URI = _env("CRM_REDIS_URL", "memory://")
        self.RATELIMIT_KEY_PREFIX = _env("CRM_RATELIMIT_PREFIX", "crm")
        self.RATELIMIT_HEADERS_ENABLED = True
        self.CRM_LOGIN_RATE_LIMIT = _env("CRM_LOGIN_RATE_LIMIT", "30 per minute")
        # Reset links asked for one login, from any address: anyone may ask for anyone's.
        self.CRM_FORGOT_RATE_LIMIT = _env("CRM_FORGOT_RATE_LIMIT", "5 per hour")
        # Empty: the API's limit per token or user comes from the admin's settings.
        self.CRM_API_RATE_LIMIT = _env("CRM_API_RATE_LIMIT", "")

        self.HSTS = False
        self.SQLITE_WAL = True


class DevelopmentConfig(Config):
    ENV_NAME = "development"


class TestingConfig(Config):
    ENV_NAME = "testing"

    def read_environment(self) -> None:
        super().read_environment()
        self.TESTING = True
        self.SECRET_KEY = "testing-secret-key-that-is-long-enough-0123"
        self.SQLALCHEMY_DATABASE_URI = _env("CRM_TEST_DATABASE_URL", "sqlite://")
        # The PostgreSQL pass of CI keeps rate limits in Redis, as production does.
        self.RATELIMIT_STORAGE_URI = _env("CRM_TEST_REDIS_URL", "memory://")
        # Counts of this app alone. Redis outlives a test run, whose fresh database hands out
        # the same ids again (a per-user limit counts by id). Flask-Limiter sets the one
        # Limiter's prefix from the first app a process makes and keeps it: tests/conftest.py
        # also gives every app of a run (production's too) a prefix of that run's own.
        self.RATELIMIT_KEY_PREFIX = f"{self.RATELIMIT_KEY_PREFIX}-test-{secrets.token_hex(6)}"
        # Tests other than the rate limit's own run with limits raised.
        self.CRM_LOGIN_RATE_LIMIT = "10000 per minute"
        self.CRM_FORGOT_RATE_LIMIT = "10000 per minute"
        self.CRM_API_RATE_LIMIT = "10000 per minute"


class ProductionConfig(Config):
    ENV_NAME = "production"

    def read_environment(self) -> None:
        super().read_environment()
        self.SESSION_COOKIE_SECURE = True
        self.REMEMBER_COOKIE_SECURE = True
        self.HSTS = True
        secret = self.SECRET_KEY or ""
        if secret == DEVELOPMENT_SECRET or len(secret) < MIN_SECRET_LENGTH:
            raise RuntimeError(
                "CRM_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters in production "
                '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None = None) -> Config:
    name = name or _env("CRM_ENV", "development")
    try:
        config_class = CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"CRM_ENV must be one of {', '.join(CONFIGS)}, not {name!r}") from None
    return config_class()


def default_sqlite_url(instance_path: str) -> str:
    return "sqlite:///" + str(Path(instance_path) / "crm.sqlite3")
