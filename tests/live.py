"""The live server and its database for tests that need committed rows (browser, concurrency)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server

from crm.extensions import db

# Seeded once by the app fixture (catalogue.install_defaults) and kept between tests.
CATALOGUE_TABLES = frozenset({"metrics", "stage_definitions", "task_templates", "cache_versions"})


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve the app on a free port of 127.0.0.1 in a thread; yields its base URL.

    Each request pushes its own app context, so the server's threads use sessions of
    their own and see only what the test has committed.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def empty_database() -> None:
    """Delete every row but the seeded catalogue's, children before parents.

    sorted_tables leaves out the edge that use_alter breaks in a cycle (users.factory_id
    against factories.owner_id), so the rows on such an edge go just before their parent:
    a factory's users before the factories (a CHECK forbids clearing their factory_id).
    Tables that nothing references (audit entries, notifications) go first of all, so that
    no user row is deleted while a row that must name an actor still points at it.
    """
    db.session.rollback()
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in CATALOGUE_TABLES]
    referenced = {key.column.table for t in tables for key in t.foreign_keys}
    order = [t for t in tables if t not in referenced] + [t for t in tables if t in referenced]
    position = {table: index for index, table in enumerate(order)}
    for table in order:
        for child in order[position[table] + 1 :]:
            for key in child.foreign_keys:
                if key.column.table is table:
                    db.session.execute(child.delete().where(key.parent.is_not(None)))
        db.session.execute(table.delete())
    db.session.commit()
