"""The Simplified Chinese catalogue is complete, consistent with the source and compiled."""

from __future__ import annotations

import gettext
import re
from io import BytesIO
from pathlib import Path

import flask_babel
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from crm import create_app

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "crm" / "translations"
PO = TRANSLATIONS / "zh_Hans" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
HOW_TO_FIX = (
    "Run `make translations`, translate the new entries in "
    "crm/translations/zh_Hans/LC_MESSAGES/messages.po, then run `make translations` again "
    "to compile the .mo (commit the .pot, .po and .mo)."
)
# A %-directive, named or not, or a bare percent sign (which would break %-formatting).
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|%")


def _ids(message: Message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _strings(message: Message) -> tuple[str, ...]:
    if isinstance(message.string, tuple):
        return message.string
    return (message.string or "",)


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def _translated(message: Message, catalog: Catalog) -> bool:
    strings = _strings(message)
    forms = catalog.num_plurals if message.pluralizable else 1
    return not message.fuzzy and len(strings) == forms and all(s.strip() for s in strings)


def _where(message: Message) -> str:
    return ", ".join(f"{name}:{line}" for name, line in message.locations) or "?"


def _keywords() -> dict:
    """Babel's default keywords plus each `-k` that the Makefile's extract command adds."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    extract = [line for line in makefile.splitlines() if "pybabel extract" in line]
    assert extract, "the Makefile has no `pybabel extract` command"
    return {**DEFAULT_KEYWORDS, **parse_keywords(re.findall(r"-k\s+(\S+)", extract[0]))}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    with PO.open("rb") as handle:
        return read_po(handle)


@pytest.fixture(scope="module")
def extracted() -> list[tuple[str, int, str | tuple[str, ...], str | None]]:
    """What `make translations` extracts: babel.cfg's method map, the Makefile's keywords."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, "babel.cfg")
    # Babel skips folders whose names start with "_" unless told otherwise, and our macros
    # live in templates/_macros: the Makefile passes --ignore-dirs, and so does this.
    found = extract_from_dir(
        ROOT,
        method_map,
        options_map,
        keywords=_keywords(),
        directory_filter=lambda path: (
            not Path(path).name.startswith(".")
            and Path(path).name not in ("__pycache__", ".venv", "node_modules")
        ),
    )
    return [(name, line, message, context) for name, line, message, _c, context in found]


def test_catalogue_is_simplified_chinese_with_one_plural_form(catalog):
    assert str(catalog.locale) == "zh_Hans"
    assert catalog.num_plurals == 1
    assert not catalog.fuzzy, "the catalogue header is marked fuzzy"
    assert len(catalog) > 0


def test_every_message_is_translated_and_none_is_fuzzy(catalog):
    bad = [
        f"{_where(message)}: {message.id!r}"
        for message in catalog
        if message.id and not _translated(message, catalog)
    ]
    assert not bad, "Empty, fuzzy or wrongly pluralised translations:\n" + "\n".join(bad)


def test_translations_keep_the_placeholders_of_their_source(catalog):
    bad = []
    for message in catalog:
        if not message.id:
            continue
        expected = set().union(*(_placeholders(text) for text in _ids(message)))
        for text in _strings(message):
            if _placeholders(text) != expected:
                bad.append(f"{_where(message)}: {message.id!r} -> {text!r}")
    assert not bad, "Placeholders differ from the source string:\n" + "\n".join(bad)


def test_extraction_finds_strings_in_python_and_templates(extracted):
    names = {name for name, *_rest in extracted}
    assert any(name.endswith(".py") for name in names)
    assert any(name.startswith("crm/templates/") for name in names), (
        "no string was extracted from the Jinja templates: check babel.cfg"
    )
    assert ("crm/templates/auth/login.html", "Sign in") in {(n, m) for n, _l, m, _c in extracted}
    assert any(name.startswith("crm/templates/_macros/") for name in names), (
        "no string was extracted from templates/_macros: babel skips folders named _*"
    )


def test_catalogue_covers_every_string_in_the_source(catalog, extracted):
    absent, untranslated = {}, {}
    for name, line, message, context in extracted:
        msgid = message[0] if isinstance(message, tuple) else message
        if not msgid:
            continue
        entry = catalog.get(msgid, context)
        if entry is None:
            absent.setdefault(msgid, f"{name}:{line}")
        elif not _translated(entry, catalog):
            untranslated.setdefault(msgid, f"{name}:{line}")
    problems = [f"not in the catalogue: {where}: {msgid!r}" for msgid, where in absent.items()]
    problems += [f"not translated: {where}: {msgid!r}" for msgid, where in untranslated.items()]
    assert not problems, "\n".join([*problems, HOW_TO_FIX])


def test_committed_mo_matches_the_po(catalog):
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    expected = gettext.GNUTranslations(compiled)
    with MO.open("rb") as handle:
        committed = gettext.GNUTranslations(handle)
    # The header entry names the Babel release that compiled it; only the translations count.
    assert _messages(committed) == _messages(expected), (
        "messages.mo is out of date with messages.po: run `pybabel compile -d crm/translations`"
    )


def test_the_app_speaks_chinese_to_a_chinese_browser():
    app = create_app("testing")
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert str(flask_babel.get_locale()) == "zh_Hans"
        assert flask_babel.gettext("Sign in") == "登录"
        assert flask_babel.gettext("Today") == "今天"
        waiting = flask_babel.ngettext(
            "%(num)d stage change waits for a decision.",
            "%(num)d stage changes wait for a decision.",
            3,
        )
        assert waiting == "有3个阶段变更等待审批。"
    with app.test_request_context(headers={"Accept-Language": "en-GB"}):
        assert flask_babel.gettext("Sign in") == "Sign in"


def _messages(translations: gettext.GNUTranslations) -> dict:
    return {key: text for key, text in translations._catalog.items() if key != ""}
