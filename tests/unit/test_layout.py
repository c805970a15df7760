"""The code's layout holds (STYLE.md "The layers", docs/architecture.md): no import runs from a
lower layer to a higher one, the demo stays apart from the product, services are grouped in
packages of a few modules each, and every module and function the architecture map names
exists."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
from wtforms import Form
from wtforms.form import BaseForm

import crm.forms
from crm.forms import PageForm, QueryForm

ROOT = Path(__file__).resolve().parents[2]
CRM = ROOT / "crm"

# Each area of crm/ by layer, lowest first: a module may import its own area or a lower layer.
LAYERS: dict[str, int] = {
    "extensions": 0,
    "errors": 0,
    "values": 0,  # what an id, a number, a date, an instant and a text accept at the edge
    "clock": 0,
    "export": 0,
    "data": 0,
    "assets": 0,  # the static files under hashed names, and compression: an extension
    "transactions": 1,  # how a transaction begins: on the extensions, beside the models
    "models": 1,
    "cache": 2,  # what each process keeps of the settings, stages, metrics and belts
    "statements": 2,  # statements built once per process, the time bound when they run
    "scope": 3,
    "services": 4,
    "forms": 5,
    "jobs": 5,
    "demo": 5,
    "views": 6,
    "cli": 6,
    "cli_work": 6,
    "": 7,  # crm/__init__.py, the app factory
}
# Edges of one layer that call into each other: the CLI's work command joins the CLI's group.
SIDEWAYS = {("cli_work", "cli")}
# Who may import the demo: the demo itself and the CLI (and, outside crm/, the bench and tests).
DEMO_CALLERS = {"demo", "cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every crm module a file imports, at any depth (imports inside functions count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "crm":
                found += [(node.lineno, f"crm.{alias.name}") for alias in node.names]
            elif node.module.startswith("crm."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("crm.")]
    return found


def crm_modules() -> list[Path]:
    return sorted(p for p in CRM.rglob("*.py") if "vendor" not in p.parts)


def upward_imports(path: Path, module: str) -> list[str]:
    source = area(module)
    return [
        f"{path.name}:{line} ({source}) imports {target}"
        for line, target in imports_of(path)
        if area(target) != source
        and (source, area(target)) not in SIDEWAYS
        and (area(target) not in LAYERS or LAYERS[area(target)] >= LAYERS[source])
    ]


def test_every_area_of_crm_has_a_layer():
    areas = {area(module_name(path)) for path in crm_modules()}
    assert areas - set(LAYERS) == set()


def test_no_import_runs_from_a_lower_layer_to_a_higher_one():
    assert [w for path in crm_modules() for w in upward_imports(path, module_name(path))] == []


def test_the_layer_check_sees_an_upward_import(tmp_path):
    # A service that reads the jobs' registry (as the scheduler did when it was a service) or
    # the app package's constants (as readiness did): both refused; a model is not.
    sample = tmp_path / "example.py"
    sample.write_text(
        "from crm.jobs import JOBS\nfrom crm import MIGRATIONS\nfrom crm.models import User\n"
    )
    assert upward_imports(sample, "crm.services.install.example") == [
        "example.py:1 (services) imports crm.jobs",
        "example.py:2 (services) imports crm.MIGRATIONS",
    ]


def test_nothing_in_the_product_imports_the_demo():
    importers = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in crm_modules()
        if area(module_name(path)) not in DEMO_CALLERS
        for line, target in imports_of(path)
        if target == "crm.demo" or target.startswith("crm.demo.")
    ]
    assert importers == []


def test_services_come_in_packages_by_area_of_two_to_twelve_modules():
    services = CRM / "services"
    assert sorted(p.name for p in services.glob("*.py")) == ["__init__.py"]
    sizes = {
        package.name: len([p for p in package.glob("*.py") if p.name != "__init__.py"])
        for package in services.iterdir()
        if (package / "__init__.py").exists()
    }
    assert {name: size for name, size in sizes.items() if not 2 <= size <= 12} == {}


# --- the architecture map -------------------------------------------------------------------

MAP = ROOT / "docs" / "architecture.md"
DOTTED = re.compile(r"`(crm(?:\.\w+)+)`")
PATHS = re.compile(r"`((?:crm|tests|bench|migrations)/[\w/.-]+)`")


def named_in_map() -> tuple[list[str], list[str]]:
    text = MAP.read_text("utf-8")
    return DOTTED.findall(text), PATHS.findall(text)


def resolves(dotted: str) -> bool:
    """A module, or a name (function, class, constant) inside one, or one of its attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_the_architecture_map_names_modules_and_rules_that_exist():
    dotted, paths = named_in_map()
    assert len(dotted) > 40 and len(paths) > 5  # the map is read, not skipped
    assert [name for name in dotted if not resolves(name)] == []
    assert [path for path in paths if not (ROOT / path.rstrip("/")).exists()] == []


@pytest.mark.parametrize("name", ["crm.services.field.visits.log_visit_gone", "crm.nowhere"])
def test_a_name_that_is_gone_does_not_resolve(name):
    assert not resolves(name)


def test_every_form_takes_its_input_through_the_one_place():
    """Every form of crm/forms is a PageForm (posted) or a QueryForm (filters): one place
    decides what a field may receive (a file only a file field, storable text only)."""
    strays = []
    for info in pkgutil.iter_modules(crm.forms.__path__, "crm.forms."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseForm)
                and value.__module__ == module.__name__
                and not issubclass(value, PageForm | QueryForm)
            ):
                strays.append(f"{module.__name__}.{name}")
    assert not strays, f"forms outside PageForm and QueryForm: {strays}"
    assert issubclass(QueryForm, Form)
