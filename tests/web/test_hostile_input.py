"""The generated hostile-input test (issue 19, point 3): no input reaches a 500.

Nothing here is a hand-kept list of routes or fields. For every rule of `app.url_map`, every
method and each position of the scope matrix (tests/web/matrix.py), the test learns which
query, form, file and JSON fields the view reads by recording every key the request's
dictionaries are asked for (and, for the API, the fields its document names), then sends
hostile values in each of them and in each path argument. Every answer must be below 500,
and nothing may be logged as an error: an exception the app did not turn into a 4xx fails
the test with the request that raised it.

Each request runs in a savepoint that is rolled back after it, so the world does not drift
(a hostile sign-out, a deactivation or a deletion undoes itself) and the next request sees
the same records. The cookies of each position's client are restored the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import pytest
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict

from crm import scope
from crm.extensions import db
from crm.views.api.spec.operations import OPERATIONS
from tests.web.helpers import csrf_token
from tests.web.matrix import (
    OK,
    POSITIONS,
    ROLE_OF,
    SEES_A,
    UNBOUND_ARGUMENTS,
    World,
    expected,
    signed_in_client,
)

# Text values that broke a view once, or could: ids beyond the column, Unicode digits,
# numbers Python reads but a column does not, dates at the calendar's ends, control
# characters, header injection, sheer length, and shapes of other types.
HOSTILE_TEXT = (
    "",
    " ",
    "99999999999999999999",  # above 2^63
    "2147483648",  # above PostgreSQL's integer
    "-1",
    "0",
    "²",  # passes str.isdigit(), fails int()
    "１",  # a full-width digit
    "1_0",
    "+5",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "9999-12-31",
    "0001-01-01",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+14:00",
    "2026-02-30",
    "\x00",
    "a\x00b",
    "Line1\r\nBcc: x",
    "/today\r\nX: 1",
    "\x1b[31m\x7f",
    "x" * 10_000,
    "' OR 1=1 --",
    "../../etc/passwd",
    "%",
    "[]",
    "{}",
    "null",
)
# Values a JSON body can carry besides text: the text above, then other types where a string,
# a number or an object is expected, a lone surrogate, and numbers past every column.
HOSTILE_JSON: tuple[Any, ...] = (
    *HOSTILE_TEXT,
    "\ud800",
    "a\ud800b",
    2**63,
    2**31,
    -(2**63) - 1,
    -1,
    0,
    1.5,
    1e308,
    float("nan"),
    float("inf"),
    True,
    None,
    [],
    [1, 2],
    {},
    {"id": 1},
    [[[[[[[[[[1]]]]]]]]]],
)
# Whole JSON bodies that are not an object of fields.
HOSTILE_BODIES: tuple[str, ...] = (
    "[" * 5_000 + "]" * 5_000,  # nested thousands deep (a RecursionError once)
    '{"a":' * 3_000 + "1" + "}" * 3_000,
    "[]",
    "[{}]",
    '"text"',
    "1e400",
    "NaN",
    "null",
    "{",
    '{"\\ud800": 1}',
)
# Path arguments: replaced in the built URL, so that values no converter would build get there.
HOSTILE_PATH = (
    "99999999999999999999",
    "2147483648",
    "0",
    "-1",
    "²",
    "%00",
    "%ED%A0%80",
    "x" * 3000,
)
# A file that is no image, no sheet and no sound, under every file field a view reads.
JUNK_FILE = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\xff" * 64
# Positions other than the chosen one per role get these few (the gate answers them first).
FEW = ("99999999999999999999", "²", "\x00", "Line1\r\nBcc: x")
SENTINEL = 918273645
SAFE = ("GET", "HEAD", "OPTIONS")


class _Keys:
    """The names a request's views asked of its query, form and files, per kind."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {"query": set(), "form": set(), "files": set()}

    def note(self, kind: str, key: object) -> None:
        if isinstance(key, str) and key != "csrf_token":
            self.seen[kind].add(key)


KEYS = _Keys()


def _recording(kind: str) -> type[ImmutableMultiDict]:
    class Recording(ImmutableMultiDict):
        def get(self, key, default=None, type=None):
            KEYS.note(kind, key)
            return super().get(key, default, type)

        def getlist(self, key, type=None):
            KEYS.note(kind, key)
            return super().getlist(key, type)

        def __getitem__(self, key):
            KEYS.note(kind, key)
            return super().__getitem__(key)

        def __contains__(self, key):
            KEYS.note(kind, key)
            return super().__contains__(key)

    Recording.__name__ = f"Recording{kind.title()}"
    return Recording


class RecordingRequest(Request):
    """werkzeug's request, whose args, form and files note every key a view asks for."""

    @property
    def args(self):  # type: ignore[override]
        return _recording("query")(super().args)

    @property
    def form(self):  # type: ignore[override]
        return _recording("form")(super().form)

    @property
    def files(self):  # type: ignore[override]
        return _recording("files")(super().files)


@dataclass
class Target:
    rule: Any
    method: str
    permission: str
    path: str
    problems: list[str] = field(default_factory=list)


def _api_fields() -> dict[tuple[str, str], tuple[set[str], set[str]]]:
    """The API document's body and query fields per (endpoint, method)."""
    fields = {}
    for operation in OPERATIONS:
        body = set(operation.body.fields) if operation.body else set()
        fields[(operation.endpoint, operation.method.upper())] = (body, set(operation.query))
    return fields


def _build(rule, values: dict, hostile: str | None = None, argument: str | None = None) -> str:
    arguments = {name: values[name] for name in rule.arguments}
    if argument is not None:
        arguments[argument] = SENTINEL
    path = rule.build(arguments)[1]
    if argument is not None:
        path = path.replace(str(SENTINEL), hostile or "", 1)
    return path


def _spread(names: Iterable[str], values: tuple, round_: int) -> dict:
    """Round `round_` gives each field a different value, so every field meets every value."""
    return {name: values[(round_ + i) % len(values)] for i, name in enumerate(sorted(names))}


class Prober:
    def __init__(self, app, world: World, connection, caplog) -> None:
        self.app, self.world, self.connection, self.caplog = app, world, connection, caplog
        self.api_fields = _api_fields()
        self.count = 0
        self.clients: dict[str, tuple[Any, dict, str]] = {}

    def send(self, target: Target, client, cookies: dict, label: str, **request) -> None:
        """One request in a savepoint rolled back after it; its problems go to the target."""
        client._cookies = dict(cookies)
        self.caplog.clear()
        savepoint = self.connection.begin_nested()
        self.count += 1
        try:
            response = client.open(method=target.method, **request)
            status = response.status_code
            response.close()
        except Exception as error:
            first = str(error).splitlines()[0] if str(error) else ""
            target.problems.append(f"{label}: raised {type(error).__name__}: {first}"[:300])
            return
        finally:
            if savepoint.is_active:
                savepoint.rollback()
        if status >= 500:
            target.problems.append(f"{label}: {status}")
        logged = [r for r in self.caplog.records if r.levelno >= logging.ERROR or r.exc_info]
        if logged:
            target.problems.append(f"{label}: logged {logged[0].getMessage()[:200]}")

    def position(self, position: str) -> tuple[Any, dict, str]:
        """The position's client (signed in once), its cookies and its CSRF token."""
        if position not in self.clients:
            user = self.world.users[position]
            client = signed_in_client(self.app, user)
            db.session.commit()
            token = csrf_token(client, "/login" if user is None else "/account/")
            self.clients[position] = (client, dict(client._cookies), token)
        return self.clients[position]

    def probe(self, target: Target, position: str, values: tuple, json_values: tuple) -> None:
        client, cookies, token = self.position(position)
        is_api = target.rule.rule.startswith("/api/")
        body_fields, query_fields = self.api_fields.get(
            (target.rule.endpoint, target.method), (set(), set())
        )
        headers = {"X-CSRFToken": token}

        def form_of(fields: dict) -> dict:
            return {**fields, "csrf_token": token}

        name = f"{target.method} {target.rule.rule} as {position}"
        # 1. Discovery: the empty request, and what the view asks of it.
        KEYS.seen = {"query": set(query_fields), "form": set(), "files": set()}
        self.send(target, client, cookies, f"{name} (empty)", path=target.path, data=form_of({}))
        # 2. Each path argument, hostile.
        for argument in target.rule.arguments:
            for hostile in HOSTILE_PATH if values is HOSTILE_TEXT else HOSTILE_PATH[:2]:
                path = _build(target.rule, self.world.values, hostile, argument)
                self.send(
                    target,
                    client,
                    cookies,
                    f"{name} path {argument}={hostile[:20]!r}",
                    path=path,
                    data=form_of({}),
                )
        # 3. Every field the view read, hostile; rounds until no new field is asked for.
        done: set[tuple[str, ...]] = set()
        for _pass in range(3):
            seen = (
                tuple(sorted(KEYS.seen["query"])),
                tuple(sorted(KEYS.seen["form"])),
                tuple(sorted(KEYS.seen["files"])),
            )
            if seen in done:
                break
            done.add(seen)
            query, form, files = seen
            if not (query or form or files):
                break
            for round_ in range(len(values)):
                data: dict[str, Any] = form_of(_spread(form, values, round_))
                for file_name in files:
                    data[file_name] = (BytesIO(JUNK_FILE), "x.jpg", "image/jpeg")
                self.send(
                    target,
                    client,
                    cookies,
                    f"{name} fields round {round_}",
                    path=target.path,
                    query_string=_spread(query, values, round_),
                    data=data,
                )
        # 4. JSON bodies: every field the API documents (or the page's form read), hostile,
        # then bodies that are not an object of fields. A page's form gets a few of each.
        if target.method not in SAFE:
            fields = body_fields if is_api else KEYS.seen["form"]
            rounds = len(json_values) if is_api else min(4, len(json_values))
            for round_ in range(rounds):
                body = json.dumps(_spread(fields, json_values, round_) or {"x": 1})
                self.send(
                    target,
                    client,
                    cookies,
                    f"{name} json round {round_}: {body[:80]}",
                    path=target.path,
                    data=body,
                    content_type="application/json",
                    headers=headers,
                )
            for body in HOSTILE_BODIES if is_api and values is HOSTILE_TEXT else HOSTILE_BODIES[:3]:
                self.send(
                    target,
                    client,
                    cookies,
                    f"{name} body {body[:20]!r}",
                    path=target.path,
                    data=body,
                    content_type="application/json",
                    headers=headers,
                )


def _targets(app, world: World, blueprint: str) -> list[Target]:
    targets = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint.split(".")[0] != blueprint:
            continue
        permission = scope.permission_of(app.view_functions, rule.endpoint)
        path = _build(rule, world.values)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            targets.append(Target(rule, method, permission, path))
    return targets


def _chosen(permission: str, record_bound: bool) -> set[str]:
    """One position per role that the route lets through: the one that sees factory A."""
    chosen = {}
    for position in POSITIONS:
        if expected(permission, position, record_bound) != OK:
            continue
        role = ROLE_OF[position]
        if role not in chosen or position in SEES_A:
            chosen[role] = position
    return set(chosen.values())


BLUEPRINTS = (
    "static", "health", "auth", "account", "field", "factories", "tasks", "followups",
    "inbox", "visits", "api", "tokens", "pipeline", "portal", "admin", "imports",
    "admin_security", "two_factor", "sync", "search", "privacy",
)  # fmt: skip


def test_the_blueprints_are_all_probed(app):
    assert {rule.endpoint.split(".")[0] for rule in app.url_map.iter_rules()} == set(BLUEPRINTS)


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
def test_no_hostile_value_reaches_a_500(
    app, matrix_world, db_session, caplog, monkeypatch, blueprint
):
    monkeypatch.setattr(app, "request_class", RecordingRequest)
    caplog.set_level(logging.WARNING)
    db_session.commit()
    prober = Prober(app, matrix_world, db_session.get_bind(), caplog)
    targets = _targets(app, matrix_world, blueprint)
    assert targets
    for target in targets:
        record_bound = bool(set(target.rule.arguments) - UNBOUND_ARGUMENTS)
        chosen = _chosen(target.permission, record_bound)
        for position in POSITIONS:
            full = position in chosen
            prober.probe(
                target,
                position,
                HOSTILE_TEXT if full else FEW,
                HOSTILE_JSON if full else FEW,
            )
    problems = [problem for target in targets for problem in target.problems]
    assert not problems, f"{len(problems)} of {prober.count} requests:\n" + "\n".join(problems)


def test_the_probe_learns_the_fields_a_view_reads(
    app, matrix_world, db_session, caplog, monkeypatch
):
    """The probe is only as good as what it learns: the list's filters, the edit form's fields
    and the visit's photos are found without being named here."""
    monkeypatch.setattr(app, "request_class", RecordingRequest)
    prober = Prober(app, matrix_world, db_session.get_bind(), caplog)
    learnt = {}
    for rule_text, method in (
        ("/factories/", "GET"),
        ("/factories/<int:factory_id>/edit", "POST"),
        ("/visit", "POST"),
    ):
        rule = next(rule for rule in app.url_map.iter_rules() if rule.rule == rule_text)
        target = Target(rule, method, "staff", _build(rule, matrix_world.values))
        prober.probe(target, "rep_owner", FEW, FEW)
        assert not target.problems
        learnt[rule_text] = {kind: set(names) for kind, names in KEYS.seen.items()}
    assert {"q", "stage"} <= learnt["/factories/"]["query"]
    assert {"name", "address"} <= learnt["/factories/<int:factory_id>/edit"]["form"]
    assert {"factory_id", "summary"} <= learnt["/visit"]["form"]
