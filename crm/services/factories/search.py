"""The search: what a query finds among factories and contacts, and the index each database
answers it from. The one home of the search's rule, for the header's search box and for `?q=`
of My factories. The keys it looks in are written by crm.services.factories.search_keys.

The query. Its words, in any order, must each be in the key: a word of three characters or
more as it is (by its trigrams), a word of two as a pair (by the pair's trigrams), a word of
one only beside a longer one. A query of digits, spaces and +-() holding four digits or more
is a phone: its national digits, one word. A factory is also found by its credit code typed
whole. On PostgreSQL the LIKEs are answered by the pg_trgm GIN indexes on the keys; on SQLite
the FTS5 trigram tables `factory_search` and `contact_search` first narrow the rows to those
holding the words' trigrams, and the same LIKEs then decide, so both databases agree.
Always within the actor's scope (crm.scope).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import and_, column, literal_column, or_, select, table
from sqlalchemy.sql.elements import ColumnElement

from crm import scope
from crm.errors import Invalid
from crm.extensions import db
from crm.models import Contact, Factory, User
from crm.models.factory import CONTACT_SEARCH_TABLE, SEARCH_TABLE
from crm.services.factories import credit_code
from crm.services.factories.search_keys import HAN, PAIR_MARK, fold, normal, readings_of
from crm.values import national_digits

# The longest query read (a longer one is refused with a message, never cut silently).
QUERY_MAX = 100
SEARCH_MAX = QUERY_MAX
WORDS_MAX = 8
# A phone is looked for from this many digits (fewer find half the book).
PHONE_DIGITS_MIN = 4
# The trigram indexes find text of at least this many characters.
INDEXED_LENGTH = 3
# What the box shows per group as one types; the results page shows more.
BOX_LIMIT = 6
PAGE_LIMIT = 50

_PHONE = re.compile(r"[\d\s+\-().]+")
_WORD_CHARACTER = re.compile(r"[^\W_]")


# --- the query ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """A query read: its words (normal form) and whether it is a phone number."""

    text: str
    words: tuple[str, ...]
    phone: bool = False
    code: str = ""


def read_query(raw: str) -> Query:
    """The words of a query, or Invalid naming the field `q` with what to type instead."""
    text = raw.strip()
    if len(text) > QUERY_MAX:
        raise _invalid(_("Search for at most %(count)d characters.", count=QUERY_MAX))
    words = normal(text)
    digits = national_digits(words)
    if _PHONE.fullmatch(words) and len(digits) >= PHONE_DIGITS_MIN:
        return Query(text, (digits,), phone=True)
    kept = tuple(dict.fromkeys(w for w in words.split() if _WORD_CHARACTER.search(w)))
    if not kept:
        raise _invalid(_("Type part of a name, its pinyin or initials, or a phone number."))
    if len(kept) > WORDS_MAX:
        raise _invalid(_("Search with at most %(count)d words.", count=WORDS_MAX))
    if max(len(word) for word in kept) < 2:
        raise _invalid(_("Type at least two letters or characters."))
    code = credit_code.normalise(text)
    return Query(text, kept, code=code if len(code) == credit_code.LENGTH else "")


def _invalid(message: str) -> Invalid:
    return Invalid(message, {"q": message})


def _escaped(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _patterns(word: str) -> tuple[str, ...]:
    """What a word is looked for as in a key, any one found: a pair with its mark; a word of
    letters as typed or with -ng folded into -n (the key keeps the usual spelling folded)."""
    if len(word) == 2:
        return (word + PAIR_MARK,)
    if word.isascii() and word.isalpha() and fold(word) != word:
        return (word, fold(word))
    return (word,)


def _like(key, pattern: str) -> ColumnElement[bool]:
    return key.like(f"%{_escaped(pattern)}%", escape="\\")


def key_condition(
    key, fts_table: str, rowid, query: Query, small_scope: bool = False
) -> ColumnElement[bool]:
    """The rows whose key holds every word of the query (on an index on both databases).

    Within a small scope (a rep's, read from its own indexes) both databases read the
    scope's rows and test their keys, rather than the trigram index: a common pair (the
    city's 永康) names thousands of factories there, all gathered before the rep's hundred
    are kept (PostgreSQL's estimate of a pair's trigrams is far too low to know). The key
    is then written `search_key || ''`, which no index answers."""
    each = [_patterns(word) for word in query.words]
    if small_scope:
        key = key.concat("")
    found = and_(*(or_(*(_like(key, p) for p in options)) for options in each))
    indexed = [options for options in each if len(options[0]) >= INDEXED_LENGTH]
    if indexed and not small_scope and db.session.get_bind().dialect.name == "sqlite":
        found = rowid.in_(_trigram_matches(fts_table, indexed)) & found
    return found


def _trigram_matches(fts_table: str, each: list[tuple[str, ...]]):
    """The rowids whose keys hold, for every word, one of its patterns' trigrams (SQLite's
    FTS5 table)."""
    phrase = " AND ".join(
        "(" + " OR ".join('"' + p.replace('"', '""') + '"' for p in options) + ")"
        for options in each
    )
    fts = table(fts_table, column("rowid"))
    return select(fts.c.rowid).where(literal_column(fts_table).op("MATCH")(phrase))


def factory_condition(query: Query, actor: User | None = None) -> ColumnElement[bool]:
    """The factories a query finds (their key, or the credit code typed whole); the actor
    whose scope they are read within, if known."""
    small_scope = actor is not None and actor.role == "rep"
    found = key_condition(Factory.search_key, SEARCH_TABLE, Factory.id, query, small_scope)
    if query.code:
        found = or_(found, Factory.credit_code == query.code)
    return found


def contact_condition(query: Query) -> ColumnElement[bool]:
    return key_condition(Contact.search_key, CONTACT_SEARCH_TABLE, Contact.id, query)


def condition(search: str, actor: User | None = None) -> ColumnElement[bool]:
    """The factories that My factories' `?q=` finds: the same rule; a query with nothing to
    look for finds nothing."""
    try:
        return factory_condition(read_query(search), actor)
    except Invalid:
        return Factory.id.is_(None)


# --- the results ----------------------------------------------------------------------------


@dataclass
class Results:
    query: Query
    factories: list = field(default_factory=list)
    contacts: list = field(default_factory=list)
    more_factories: bool = False
    more_contacts: bool = False


def search(actor: User, query: Query, on: date, limit: int) -> Results:
    """The factories and contacts in the actor's scope that a query finds, by name, up to a
    limit per group (one row more tells that there are more)."""
    in_scope = scope.factory_condition(actor, on)
    found = Results(query)
    if not query.phone or query.code:
        rows = db.session.execute(
            select(Factory.id, Factory.name, Factory.address, Factory.status, Factory.stage)
            .where(in_scope, factory_condition(query, actor))
            .order_by(Factory.name, Factory.id)
            .limit(limit + 1)
        ).all()
        found.factories, found.more_factories = rows[:limit], len(rows) > limit
    rows = db.session.execute(
        select(
            Contact.id,
            Contact.name,
            Contact.role,
            Contact.phone,
            Contact.factory_id,
            Factory.name.label("factory_name"),
        )
        .join(Factory, Factory.id == Contact.factory_id)
        .where(in_scope, contact_condition(query))
        .order_by(Contact.name, Contact.id)
        .limit(limit + 1)
    ).all()
    found.contacts, found.more_contacts = rows[:limit], len(rows) > limit
    return found


# --- the match, marked ----------------------------------------------------------------------


def marked(text: str, query: Query) -> list[tuple[str, bool]]:
    """The text in pieces, each with whether a word of the query matched it there (as
    written, or by the pinyin or initials of its characters); the template escapes each."""
    hits = [False] * len(text)
    for word in query.words:
        if query.phone:
            _mark_digits(text, word, hits)
        else:
            _mark_word(text, word, hits)
    pieces: list[tuple[str, bool]] = []
    for hit, group in itertools.groupby(zip(text, hits, strict=True), key=lambda pair: pair[1]):
        pieces.append(("".join(character for character, _ in group), hit))
    return pieces


def _mark_digits(text: str, digits: str, hits: list[bool]) -> None:
    places = [i for i, character in enumerate(text) if character.isdigit()]
    written = "".join(text[i] for i in places)
    start = written.rfind(digits)
    if start >= 0:
        for i in places[start : start + len(digits)]:
            hits[i] = True


def _mark_word(text: str, word: str, hits: list[bool]) -> None:
    plain = [normal(character) if len(normal(character)) == 1 else character for character in text]
    joined = "".join(plain)
    start, found = joined.find(word), False
    while start >= 0:
        found = True
        for i in range(start, start + len(word)):
            hits[i] = True
        start = joined.find(word, start + 1)
    if found:
        return
    sounds = [_sound_of(character) for character in plain]
    for begin in range(len(text)):
        end = _spelled(sounds, begin, word) or _spelled(sounds, begin, fold(word), folded=True)
        if end:
            for i in range(begin, end):
                hits[i] = True
            return


def _sound_of(character: str) -> tuple[str, ...]:
    if HAN.fullmatch(character):
        return readings_of(character)
    return (character,) if _WORD_CHARACTER.fullmatch(character) else ()


def _spelled(sounds, begin: int, word: str, folded: bool = False) -> int:
    """Where a spelling of the word that starts at `begin` ends (0 when none does): each
    character read in full or by its initial, the word's end allowed mid-reading."""

    def walk(place: int, at: int) -> int:
        if at == len(word):
            return place
        if place >= len(sounds) or not sounds[place]:
            return 0
        for option in sounds[place]:
            option = fold(option) if folded else option
            rest = word[at:]
            if rest.startswith(option):
                end = walk(place + 1, at + len(option))
                if end:
                    return end
            elif option.startswith(rest):
                return place + 1
            if option[0] == word[at] and len(option) > 1:
                end = walk(place + 1, at + 1)
                if end:
                    return end
        return 0

    return walk(begin, 0)
