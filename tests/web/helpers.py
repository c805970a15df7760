"""Driving the app through the test client as a person would: fetch the form, then post it."""

from __future__ import annotations

import re

from tests.builders import PASSWORD

_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/login", **request) -> str:
    page = client.get(path, **request).get_data(as_text=True)
    match = _TOKEN.search(page)
    assert match, f"no CSRF token on {path}: {page[:300]}"
    return match.group(1)


def sign_in(
    client, login: str, password: str = PASSWORD, *, headers=None, environ_base=None, **fields
):
    """Post the login form; `fields` adds form fields (remember, next), the rest the request."""
    request = {"headers": headers or {}, "environ_base": environ_base or {}}
    token = csrf_token(client, "/login", **request)
    data = {"login": login, "password": password, "csrf_token": token, **fields}
    return client.post("/login", data=data, **request)
