"""The README's "Integrating with the API" recipes, run as written against the test app.

Each `curl` of that section is read from the README itself (its method, URL, headers, body
and query), sent through the test client with a real token, and its answer must be the status
that the line after it (`# → 201 ...`) says: the README cannot drift from the server.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import MetricSnapshot, Visit
from crm.services.accounts import api_tokens
from tests import builders

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Integrating with the API"
CRM = "https://crm.example.com"
# The recipes' day: their visit was checked in five minutes ago, in Shanghai.
NOW = datetime(2026, 12, 6, 2, 35, tzinfo=UTC)
# The example ids of the recipes, made for the test.
FACTORY_IDS = (41017, 41018)
EXPECTED = re.compile(r"^# → (\d{3})\b")
FIELD_SAID = re.compile(r'"([^"]+)": "([^"]*)"')


@dataclass
class Recipe:
    line: int  # where the curl starts in the README
    argv: list[str]
    expected: int | None = None
    said: str = ""  # the README's line on the answer
    method: str = "GET"
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    query: list[tuple[str, str]] = field(default_factory=list)

    def read(self) -> Recipe:
        """The request that curl would send for these arguments (the ones the README uses)."""
        arguments = iter(self.argv[1:])
        as_query = False
        for argument in arguments:
            if argument == "-X":
                self.method = next(arguments)
            elif argument == "-H":
                name, _colon, value = next(arguments).partition(":")
                self.headers[name.strip()] = value.strip()
            elif argument in ("-d", "--data", "--data-raw"):
                self.body = next(arguments)
            elif argument == "--data-urlencode":
                name, _equals, value = next(arguments).partition("=")
                self.query.append((name, value))
            elif argument == "-G":
                as_query = True
            elif argument.startswith("-"):
                assert argument in ("-sS", "-s", "-S", "-i"), f"README line {self.line}: {argument}"
            else:
                self.url = argument
        if self.body is not None and self.method == "GET":
            self.method = "POST"
        assert as_query or not self.query, f"README line {self.line}: --data-urlencode needs -G"
        return self


def recipes(token: str) -> list[Recipe]:
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, "the README has no section on integrating with the API"
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    found: list[Recipe] = []
    lines = text[start : end if end != -1 else None].splitlines()
    first_line = text[:start].count("\n") + 1
    in_block, command, command_line = False, "", 0
    for number, line in enumerate(lines, start=first_line):
        if line.startswith("```"):
            in_block = line.strip() == "```sh"
            continue
        if not in_block:
            continue
        if command or line.startswith("curl "):
            command_line = command_line if command else number
            command += line.removesuffix("\\") + ("\n" if not line.endswith("\\") else " ")
            sent = command.replace("$CRM", CRM).replace("$TOKEN", token)
            try:
                argv = shlex.split(sent)
            except ValueError:  # a quotation still open: the command goes on
                continue
            if not line.endswith("\\"):
                found.append(Recipe(command_line, argv).read())
                command = ""
        elif (expected := EXPECTED.match(line)) and found:
            found[-1].expected, found[-1].said = int(expected.group(1)), line
    return found


@pytest.fixture
def world(db_session):
    with time_machine.travel(NOW, tick=True):
        team = builders.team()
        belt = builders.belt(team)
        rep = builders.user("rep", team_=team)
        for factory_id in FACTORY_IDS:
            builders.factory(belt, owner=rep, id=factory_id)
        db_session.commit()
        token = api_tokens.create(rep, "integration", None).secret
        db_session.commit()
        yield token


def test_each_recipe_answers_as_the_readme_says(client, world):
    found = recipes(world)
    assert len(found) >= 7
    paths = " ".join(recipe.url for recipe in found)
    assert "/api/v1/snapshots:batch" in paths and "/api/v1/visits" in paths
    assert any(name == "updated_since" for recipe in found for name, _value in recipe.query)
    with time_machine.travel(NOW, tick=True):
        for recipe in found:
            assert recipe.expected is not None, f"README line {recipe.line}: no '# → status'"
            url = urlsplit(recipe.url)
            assert f"{url.scheme}://{url.netloc}" == CRM, f"README line {recipe.line}"
            response = client.open(
                url.path,
                method=recipe.method,
                base_url=CRM,
                headers=recipe.headers,
                data=recipe.body,
                query_string=recipe.query or None,
            )
            answer = response.get_data(as_text=True)
            assert response.status_code == recipe.expected, f"README line {recipe.line}: {answer}"
            # The fields a refusal is said to name, it names (and says what the README says).
            said = dict(FIELD_SAID.findall(recipe.said.partition('"fields":')[2]))
            fields = response.get_json()["error"]["fields"] if said else {}
            assert fields == said, f"README line {recipe.line}: {answer}"
    # What the recipes did: the first batch's three figures (the refused one stored nothing),
    # and one visit however often it was sent.
    assert db.session.scalar(select(func.count()).select_from(MetricSnapshot)) == 3
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 1


def test_the_reader_reads_curl_as_curl_would():
    recipe = Recipe(
        1,
        shlex.split(
            'curl -sS -G "https://crm.example.com/api/v1/factories" -H "Authorization: Bearer x"'
            ' --data-urlencode "updated_since=2026-12-01T00:00:00+08:00"'
        ),
    ).read()
    assert recipe.method == "GET" and recipe.headers == {"Authorization": "Bearer x"}
    assert recipe.query == [("updated_since", "2026-12-01T00:00:00+08:00")]
    posted = Recipe(1, shlex.split("curl https://crm.example.com/api/v1/visits -d '{}'")).read()
    assert posted.method == "POST" and posted.body == "{}"
