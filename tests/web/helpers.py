"""Driving the app through the test client as a person would: fetch the form, then post it."""

from __future__ import annotations

import re

from tests.builders import PASSWORD

_TOKEN = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf-token" content="([^"]+)"'
)


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def sign_in(client, login: str, password: str = PASSWORD, **extra):
    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"login": login, "password": password, "csrf_token": token, **extra}
    )
