"""Factory Growth CRM: create_app() builds the Flask app from config, extensions and blueprints."""

from __future__ import annotations

import os

from flask import Flask

from config import Config, config_for, default_sqlite_url
from crm import transactions
from crm.extensions import MIGRATIONS, babel, csrf, db, limiter, login_manager, migrate


def create_app(config: Config | str | None = None, **overrides) -> Flask:
    settings = config if isinstance(config, Config) else config_for(config)
    # The host's own folder (CRM_INSTANCE_PATH), else instance/ beside the code.
    instance = overrides.get("CRM_INSTANCE_PATH", settings.CRM_INSTANCE_PATH) or None
    app = Flask(__name__, instance_path=instance, instance_relative_config=False)
    app.config.from_object(settings)
    app.config["ENV_NAME"] = settings.ENV_NAME
    app.config.update(overrides)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = default_sqlite_url(app.instance_path)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"],
        app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {},
        busy_seconds=app.config.get("CRM_SQLITE_BUSY_SECONDS", transactions.BUSY_SECONDS),
        page_cost=app.config.get("CRM_PG_RANDOM_PAGE_COST"),
    )
    if not app.config.get("CRM_STORAGE_ROOT"):
        app.config["CRM_STORAGE_ROOT"] = os.path.join(app.instance_path, "storage")
    if app.config.get("CRM_TRUST_PROXY"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    _init_extensions(app)
    from crm.values import IdConverter

    app.url_map.converters["int"] = IdConverter
    _register_blueprints(app)

    from crm.views import errors, security, templating

    errors.register(app)
    security.register(app)
    templating.register(app)

    import crm.cli_work  # noqa: F401  (adds `flask crm run-work` to the group)
    from crm.cli import crm_group

    app.cli.add_command(crm_group)
    return app


def engine_options(
    url: str,
    given: dict,
    busy_seconds: float = transactions.BUSY_SECONDS,
    page_cost: str | None = None,
) -> dict:
    """The engine's options; on PostgreSQL, what lets the app outlive a database restart.

    On SQLite, how long a writer waits for the write lock (crm.transactions) before the
    database answers busy.

    A pooled connection that the server dropped (a restart, a failover) is tested at checkout
    and replaced (pool_pre_ping), so the app recovers by itself once the database answers
    again; a server out of reach fails a connection within seconds instead of hanging a
    worker. While it is out of reach, requests answer 503 (crm.views.errors). Each connection
    sets the cost of a page read out of order (CRM_PG_RANDOM_PAGE_COST, config.py) unless it is
    "server". What the caller gave wins.
    """
    if url.startswith("sqlite"):
        connect_args = {"timeout": busy_seconds, **given.get("connect_args", {})}
        return {**given, "connect_args": connect_args}
    if not url.startswith("postgresql"):
        return dict(given)
    connect_args = {"connect_timeout": 5, **given.get("connect_args", {})}
    if page_cost and page_cost != "server":
        setting = f"-c random_page_cost={float(page_cost)}"
        connect_args["options"] = " ".join(filter(None, [connect_args.get("options"), setting]))
    return {"pool_pre_ping": True, **given, "connect_args": connect_args}


def _init_extensions(app: Flask) -> None:
    import crm.models  # noqa: F401  (registers every table on the metadata)
    from crm.models.factory import in_models

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(MIGRATIONS),
        render_as_batch=True,
        compare_type=True,
        include_object=in_models,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    from crm import assets

    assets.init_app(app)  # first of the after-request hooks, so its compression runs last

    from crm.views.auth import load_user_from_session, locale_for_request

    login_manager.init_app(app)
    login_manager.user_loader(load_user_from_session)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = app.config["SESSION_PROTECTION"]
    babel.init_app(app, locale_selector=locale_for_request)


def _register_blueprints(app: Flask) -> None:
    from crm.views import account, admin, auth, factories, field, health, pipeline, portal, privacy

    for blueprint in (
        health.bp,
        auth.bp,
        privacy.bp,
        account.bp,
        field.bp,
        factories.bp,
        pipeline.bp,
        portal.bp,
        admin.bp,
    ):
        app.register_blueprint(blueprint)
    from crm.views import api, visits

    app.register_blueprint(visits.bp)
    app.register_blueprint(api.bp)
    from crm.views import tasks

    app.register_blueprint(tasks.bp)
    from crm.views import followups

    app.register_blueprint(followups.bp)
    from crm.views import inbox, sync

    app.register_blueprint(sync.bp)

    app.register_blueprint(inbox.bp)
    from crm.views import imports

    app.register_blueprint(imports.bp)
    from crm.views import search

    app.register_blueprint(search.bp)
    from crm.views import tokens

    app.register_blueprint(tokens.bp)
    from crm.views import two_factor
    from crm.views.admin import security as admin_security

    app.register_blueprint(two_factor.bp)
    app.register_blueprint(admin_security.bp)
