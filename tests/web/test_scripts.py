"""The app's own scripts: modules served as JavaScript that import only modules that exist, each
one precached by the service worker."""

from __future__ import annotations

import re
from pathlib import Path

import crm

SCRIPTS = Path(crm.__file__).resolve().parent / "static" / "js"
# `import ... from "./x.js"`, `import("./x.js")` and the entry's `load("./x.js")`: the modules
# name each other relatively.
IMPORT = re.compile(r"""\b(?:import|load)\b[^"';]*?["']\./([\w-]+\.js)["']""")


def modules() -> set[str]:
    return {path.name for path in SCRIPTS.glob("*.js")} - {"sw.js"}


def test_every_module_is_javascript_and_imports_only_modules_that_exist(client):
    names = modules()
    assert "app.js" in names
    imported = set()
    for name in sorted(names):
        response = client.get(f"/static/js/{name}")
        assert response.status_code == 200, name
        # A module script of any other type is refused by the browser (and by nosniff).
        assert response.mimetype in ("text/javascript", "application/javascript"), name
        imported |= set(IMPORT.findall(response.get_data(as_text=True)))
    assert imported <= names
    assert imported == names - {"app.js"}  # the entry reaches every other module


def test_the_service_worker_precaches_every_module(client):
    worker = client.get("/sw.js").get_data(as_text=True)
    precached = set(re.findall(r'"/static/[0-9a-f]+/js/([\w-]+\.js)"', worker))
    assert precached == modules()
