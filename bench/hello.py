"""The reference apps of bench/throughput.py, served by gunicorn beside the CRM in the same run.

- `hello()`: a bare Flask app answering "Hello, World!": the ceiling of a sync worker here.
- `factories()`: a hand-written Jinja page of a rep's first 50 factories from one query (the
  rep's login in `?rep=`), on the CRM's database (CRM_DATABASE_URL): what a list page costs
  with no framework of our own around it, the bar the issue sets the rep's pages against.
"""

from __future__ import annotations

import os

from flask import Flask, request
from sqlalchemy import create_engine, text

FACTORIES = text(
    "SELECT f.id, f.name, b.name_zh AS belt, f.status, f.stage, f.last_visit_at,"
    " f.next_follow_up_at"
    " FROM factories f JOIN users u ON u.id = f.owner_id JOIN belts b ON b.id = f.belt_id"
    " WHERE u.email = :rep ORDER BY f.name LIMIT 50"
)

PAGE = """<!doctype html>
<html lang="zh-Hans"><head><meta charset="utf-8"><title>我的工厂</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>我的工厂</h1>
<table><thead><tr><th>工厂</th><th>产业带</th><th>阶段</th><th>上次拜访</th><th>下次跟进</th></tr></thead>
<tbody>{% for factory in factories %}
<tr><td><a href="/factories/{{ factory.id }}">{{ factory.name }}</a></td><td>{{ factory.belt }}</td>
<td>{{ factory.stage or factory.status }}</td><td>{{ factory.last_visit_at or "" }}</td>
<td>{{ factory.next_follow_up_at or "" }}</td></tr>
{% endfor %}</tbody></table></body></html>
"""


def hello() -> Flask:
    app = Flask("hello")
    app.add_url_rule("/", "hello", lambda: "Hello, World!")
    app.add_url_rule("/healthz", "healthz", lambda: "ok")
    return app


def factories() -> Flask:
    # gunicorn loads the app in each worker (no preload), so each has an engine of its own.
    engine = create_engine(os.environ["CRM_DATABASE_URL"])
    app = Flask("factories")
    template = app.jinja_env.from_string(PAGE)

    @app.get("/")
    def page() -> str:
        with engine.connect() as connection:
            rows = connection.execute(FACTORIES, {"rep": request.args.get("rep", "")}).all()
        return template.render(factories=rows)

    app.add_url_rule("/healthz", "healthz", lambda: "ok")
    return app
