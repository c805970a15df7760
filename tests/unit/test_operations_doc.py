"""docs/operations.md and deploy/ cannot go stale: every variable the app reads is named in
both, and the proxy's site file agrees with the app's own settings (issue 24, point 4)."""

from __future__ import annotations

import re
from pathlib import Path

from config import Config

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"
ENV_EXAMPLE = ROOT / "deploy" / "crm.env.example"
SITE = ROOT / "deploy" / "nginx" / "crm.conf"
# What code reads from the environment: config.py's _env("..."), os.environ and getenv.
READS = re.compile(
    r"""(?:_env|os\.environ\.get|os\.getenv|os\.environ\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
)
# Names config.py spells out of such a call (in a table of names, say).
NAMED = re.compile(r"""["']((?:CRM|AWS)_[A-Z0-9_]+)["']""")


def read_variables() -> set[str]:
    sources = [ROOT / "config.py", ROOT / "gunicorn.conf.py", *sorted((ROOT / "crm").rglob("*.py"))]
    found = set()
    for path in sources:
        text = path.read_text()
        found |= set(READS.findall(text))
        if path.name == "config.py":
            found |= set(NAMED.findall(text))
    return found


def test_every_variable_the_app_reads_is_in_the_operators_list():
    variables = read_variables()
    assert {"CRM_SECRET_KEY", "CRM_DATABASE_URL", "CRM_BIND", "CRM_TRUST_PROXY"} <= variables
    listed = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", OPERATIONS.read_text(), re.MULTILINE))
    assert variables - listed == set(), "name these in docs/operations.md's table"


def test_the_environment_file_example_names_every_production_variable():
    example = ENV_EXAMPLE.read_text()
    production = {name for name in read_variables() if not name.startswith("CRM_TEST_")}
    missing = {name for name in production if not re.search(rf"^#? ?{name}=", example, re.M)}
    assert missing == set(), "add these to deploy/crm.env.example"


def test_the_proxy_takes_the_app_s_upload_size_and_leaves_hsts_to_the_app():
    site = SITE.read_text()
    size = re.search(r"^\s*client_max_body_size (\d+)m;", site, re.MULTILINE)
    assert size and int(size[1]) * 1024 * 1024 == Config().MAX_CONTENT_LENGTH
    # The app sends Strict-Transport-Security in production: a second one here would double it.
    directives = [line.split("#")[0] for line in site.splitlines()]
    assert not any("Strict-Transport-Security" in line for line in directives)
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert re.search(rf"^\s*proxy_set_header {header} ", site, re.MULTILINE)


def test_the_units_run_what_make_serve_runs_and_the_readme_links_the_operations_page():
    web = (ROOT / "deploy" / "systemd" / "crm-web.service").read_text()
    scheduler = (ROOT / "deploy" / "systemd" / "crm-scheduler.service").read_text()
    assert 'gunicorn -c gunicorn.conf.py "crm:create_app()"' in web
    assert "flask crm scheduler" in scheduler
    assert (
        "EnvironmentFile=/etc/crm/crm.env" in web
        and "EnvironmentFile=/etc/crm/crm.env" in scheduler
    )
    assert "docs/operations.md" in (ROOT / "README.md").read_text()
