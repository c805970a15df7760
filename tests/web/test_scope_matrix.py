"""The generated scope matrix: every route × eight positions × the route's declared permission.

The expected answers come from one table (DESIGN.md "Scope"): out of scope is 404, a
page the role never has is 404 to a factory user and 403 to staff, anonymous goes to
the login page (the API answers 401). A route with no declared permission fails here.
"""

from __future__ import annotations

from crm import scope
from tests.web.helpers import csrf_token
from tests.web.matrix import (
    ANSWERS,
    LOGIN,
    OK,
    POSITIONS,
    UNBOUND_ARGUMENTS,
    expected,
    signed_in_client,
)

# Statuses that count as "allowed": a page, a redirect after a post, a refusal of the empty
# form the matrix sends (422) or of its content (409).
OK_STATUSES = {200, 201, 204, 302, 303, 409, 422}
# Every answer carries these, pages, API answers, files and errors alike (DESIGN.md "Headers").
SECURITY_HEADERS = (
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "Permissions-Policy",
)


def outcome(response, path: str) -> str:
    status = response.status_code
    location = response.headers.get("Location", "")
    # The gate sends anonymous users to the login page with the way back (a sign-out or
    # the public "/" also lead to /login, but as the page's own answer).
    if status in (301, 302, 303) and location.startswith("/login?next="):
        return LOGIN
    if status == 401 and path.startswith("/api/"):
        return LOGIN
    if status in OK_STATUSES:
        return OK
    return str(status)


def test_every_route_answers_every_position_as_the_table_says(app, matrix_world, db_session):
    world = matrix_world
    problems: list[str] = []
    undeclared: list[str] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        permission = scope.permission_of(app.view_functions, rule.endpoint)
        if permission is None:
            undeclared.append(rule.endpoint)
            continue
        unknown = set(rule.arguments) - set(world.values)
        assert not unknown, f"{rule.rule}: add a value for {unknown} to the matrix's world"
        path = rule.build({name: world.values[name] for name in rule.arguments})[1]
        record_bound = bool(set(rule.arguments) - UNBOUND_ARGUMENTS)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for position in POSITIONS:
                user = world.users[position]
                client = signed_in_client(app, user)
                db_session.commit()
                data = {}
                if method != "GET":
                    data["csrf_token"] = csrf_token(
                        client, "/login" if user is None else "/account/"
                    )
                response = client.open(path, method=method, data=data)
                missing = [name for name in SECURITY_HEADERS if name not in response.headers]
                if missing:
                    problems.append(f"{method} {path} as {position}: no {missing}")
                got = outcome(response, path)
                want = expected(permission, position, record_bound)
                if got != want:
                    problems.append(f"{method} {path} as {position}: {got}, expected {want}")
    assert not undeclared, f"endpoints without a declared permission: {undeclared}"
    assert not problems, "\n".join(problems)


def test_matrix_covers_every_position_and_permission():
    assert set(ANSWERS) == set(scope.PERMISSIONS)
    for permission, answers in ANSWERS.items():
        holders = {role for role, answer in answers.items() if answer == OK}
        assert holders == set(scope.PERMISSIONS[permission]), permission


# Each audience's blueprint may only declare these permissions, so that a wrong
# declaration (an admin page opened to staff) fails here and not in production.
BLUEPRINT_PERMISSIONS = {
    "static": {"public"},
    "health": {"public"},
    "auth": {"public", "signed_in"},
    "account": {"signed_in", "staff"},
    "privacy": {"public"},
    "field": {"staff"},
    "factories": {"staff", "manage"},
    "tasks": {"staff"},
    "followups": {"staff"},
    "inbox": {"signed_in"},
    "visits": {"staff", "rep"},
    "api": {"public", "signed_in", "staff", "manage", "factory"},
    "tokens": {"signed_in"},
    "pipeline": {"staff", "manage"},
    "portal": {"factory"},
    "admin": {"admin"},
    "imports": {"manage"},
    "admin_security": {"admin"},
    "two_factor": {"signed_in"},
    "sync": {"signed_in"},
    "search": {"staff"},
}


def test_each_blueprint_declares_only_its_audiences_permissions(app):
    wrong = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        permission = scope.permission_of(app.view_functions, rule.endpoint)
        assert blueprint in BLUEPRINT_PERMISSIONS, f"add blueprint {blueprint} to the table"
        if permission not in BLUEPRINT_PERMISSIONS[blueprint]:
            wrong.append(f"{rule.endpoint}: {permission}")
    assert not wrong, wrong
