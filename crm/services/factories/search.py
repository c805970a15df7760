"""The search: what a query finds among factories and contacts, the search key each keeps, and
the index each database answers it from.

The one home of the search's rule, for the header's search box and for `?q=` of My factories.

The key. Every factory and every contact keeps a search key (`search_key`, lower case, its
parts separated by spaces), written here on every ORM write (the mapper events at the end) and
by the bulk writers (the import, the demo) through `factory_key` and `contact_key`:
- a factory: its name, the full pinyin and the initials of its name, its address;
- a contact: their name, its pinyin and initials, and the phone's national digits (the rule of
  `crm.services.factories.national_digits`, also Contact.phone_digits).
Every reading of a character counts (pypinyin's heteronyms: 长 is chang and zhang, 重 chong
and zhong, 行 xing and hang): while a name's readings combine into at most
`COMBINATIONS_MAX` spellings all are kept; past that, the usual spelling and each spelling
with one character read otherwise; and every three characters in a row are spelled every
way, so a query of up to three characters is found whatever readings it takes, and a key
stays bounded whatever the name. The usual pinyin is kept a second time with -ng folded into
-n, as southern speech says it ("mengye" finds 门业; a query is tried both ways).
Each two characters that stand together in a part are kept again as a pair followed by
`PAIR_MARK` ("永康~"): the trigram indexes cannot find two characters alone, but they find
the pair with its mark.

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
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from flask_babel import gettext as _
from pypinyin import Style, pinyin
from sqlalchemy import and_, bindparam, column, event, literal_column, or_, select, table, update
from sqlalchemy.orm import attributes
from sqlalchemy.sql.elements import ColumnElement

from crm import scope
from crm.errors import Invalid
from crm.extensions import db
from crm.models import Contact, Factory, User
from crm.models.factory import CONTACT_SEARCH_TABLE, SEARCH_TABLE
from crm.services.factories import credit_code
from crm.values import national_digits

# The longest query read (a longer one is refused with a message, never cut silently).
QUERY_MAX = 100
SEARCH_MAX = QUERY_MAX
WORDS_MAX = 8
# A phone is looked for from this many digits (fewer find half the book).
PHONE_DIGITS_MIN = 4
# The trigram indexes find text of at least this many characters.
INDEXED_LENGTH = 3
PAIR_MARK = "~"
COMBINATIONS_MAX = 16
# Initials are a letter a character: more of their combinations are kept.
INITIAL_COMBINATIONS_MAX = 64
# Each three characters in a row are also spelled every way (up to this many spellings).
WINDOW = 3
WINDOW_COMBINATIONS_MAX = 27
SPELLINGS_MAX = 24
# What the box shows per group as one types; the results page shows more.
BOX_LIMIT = 6
PAGE_LIMIT = 50

_PHONE = re.compile(r"[\d\s+\-().]+")
_WORD_CHARACTER = re.compile(r"[^\W_]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[^\W_\u3400-\u9fff\uf900-\ufaff]+")


# --- the key --------------------------------------------------------------------------------


def normal(text: str) -> str:
    """Text as the key and the query compare it: NFKC (full-width letters and digits become
    plain ones) and lower case."""
    return unicodedata.normalize("NFKC", text or "").lower()


def fold(word: str) -> str:
    """-ng read as -n (hong and hon, meng and men): the nasals that southern speech merges."""
    return word.replace("ng", "n")


@lru_cache(maxsize=32768)
def _readings_of(character: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(pinyin(character, style=Style.NORMAL, heteronym=True)[0]))


def _sounds(text: str) -> list[tuple[tuple[str, ...], bool]]:
    """Each sound of a text with its readings, the most common first, and whether it is a
    Chinese character: a character is one sound (every reading pypinyin knows, 行 xing and
    hang), a run of other letters or digits is one (itself). Each character's readings are
    looked up once per process."""
    found: list[tuple[tuple[str, ...], bool]] = []
    for run in _RUN.findall(normal(text)):
        if _HAN.match(run):
            found.extend((_readings_of(character), True) for character in run)
        else:
            found.append(((run,), False))
    return found


def readings(text: str) -> list[tuple[str, ...]]:
    """Each sound of a text with its readings (see `_sounds`)."""
    return [options for options, _han in _sounds(text)]


def spellings(sounds: list[tuple[str, ...]], most: int = COMBINATIONS_MAX) -> list[str]:
    """The text's spellings from its sounds' readings: all while few, else the usual one and
    those that read one sound otherwise (bounded, never the full product)."""
    if not sounds:
        return []
    count = 1
    for options in sounds:
        count *= len(options)
    if count <= most:
        return list(dict.fromkeys("".join(choice) for choice in itertools.product(*sounds)))
    usual = [options[0] for options in sounds]
    found = ["".join(usual)]
    for place, options in enumerate(sounds):
        for other in options[1:]:
            found.append("".join([*usual[:place], other, *usual[place + 1 :]]))
    return list(dict.fromkeys(found))[:SPELLINGS_MAX]


def _name_parts(text: str) -> tuple[list[str], list[str]]:
    """The name's own text, its spellings in full pinyin (the usual one also folded) and its
    initials; and the parts whose pairs are kept (all but the unusual full spellings)."""
    sounds = _sounds(text)
    full = _spelled_with_windows([options for options, _han in sounds], COMBINATIONS_MAX)
    # A character's initials are its readings' first letters; a run of other text is whole.
    initials = [
        tuple(dict.fromkeys(option[0] for option in options)) if han else options
        for options, han in sounds
    ]
    letters = _spelled_with_windows(initials, INITIAL_COMBINATIONS_MAX)
    usual = full[:1]
    folded = [fold(spelling) for spelling in usual if fold(spelling) != spelling]
    return [normal(text), *full, *folded, *letters], [normal(text), *usual, *letters]


def _spelled_with_windows(sounds: list[tuple[str, ...]], most: int) -> list[str]:
    """The whole text's spellings, then every spelling of each `WINDOW` sounds in a row that
    read more than one way: a query of up to that many characters is found whichever of
    their readings it uses, even where the whole name has too many to keep."""
    found = spellings(sounds, most)
    for start in range(max(0, len(sounds) - WINDOW + 1)):
        window = sounds[start : start + WINDOW]
        if any(len(options) > 1 for options in window):
            found.extend(spellings(window, WINDOW_COMBINATIONS_MAX))
    return list(dict.fromkeys(found))


def _pairs(parts: list[str]) -> list[str]:
    """Each two characters standing together in a part, marked: the index finds a pair."""
    pairs = dict.fromkeys(
        word[start : start + 2]
        for part in dict.fromkeys(parts)
        for word in part.split()
        for start in range(len(word) - 1)
    )
    return [pair + PAIR_MARK for pair in pairs]


def _key(parts: list[str], paired: list[str]) -> str:
    kept = [part for part in dict.fromkeys(part.strip() for part in parts) if part]
    return " ".join([*kept, *_pairs(paired)])


def factory_key(name: str, address: str) -> str:
    """A factory's search key: its name, the name's pinyin and initials, its address."""
    parts, paired = _name_parts(name)
    return _key([*parts, normal(address)], [*paired, normal(address)])


def contact_key(name: str, phone: str) -> str:
    """A contact's search key: the name, its pinyin and initials, the phone's national digits
    (a phone is looked for from four digits: its pairs are not kept)."""
    parts, paired = _name_parts(name)
    return _key([*parts, national_digits(phone)], paired)


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
    if _HAN.fullmatch(character):
        return _readings_of(character)
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


# --- keeping the keys -----------------------------------------------------------------------


def refresh_factories(ids: list[int]) -> None:
    """Write the keys of factories changed by a bulk statement (their update time kept)."""
    rows = db.session.execute(
        select(Factory.id, Factory.name, Factory.address).where(Factory.id.in_(ids))
    ).all()
    if rows:
        table_ = Factory.__table__
        statement = (
            update(table_)
            .where(table_.c.id == bindparam("factory_id"))
            .values(search_key=bindparam("key"), updated_at=table_.c.updated_at)
        )
        keys = [
            {"factory_id": id_, "key": factory_key(name, address)} for id_, name, address in rows
        ]
        db.session.execute(statement, keys)


@event.listens_for(Factory, "before_insert")
@event.listens_for(Factory, "before_update")
def _factory_written(_mapper, _connection, factory: Factory) -> None:
    if factory.search_key and not _changed(factory, ("name", "address")):
        return
    factory.search_key = factory_key(factory.name or "", factory.address or "")


@event.listens_for(Contact, "before_insert")
@event.listens_for(Contact, "before_update")
def _contact_written(_mapper, _connection, contact: Contact) -> None:
    if contact.search_key and not _changed(contact, ("name", "phone")):
        return
    contact.phone_digits = national_digits(contact.phone)
    contact.search_key = contact_key(contact.name or "", contact.phone or "")


def _changed(record, names: tuple[str, ...]) -> bool:
    state = attributes.instance_state(record)
    return any(state.attrs[name].history.has_changes() for name in names)
