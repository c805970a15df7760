"""The search key that every factory and every contact keeps (crm.services.factories.search
looks in it), written on every ORM write and by the bulk writers.

Every factory and every contact keeps a search key (`search_key`, lower case, its
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
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

from pypinyin import Style, pinyin
from sqlalchemy import bindparam, event, select, update
from sqlalchemy.orm import attributes

from crm.extensions import db
from crm.models import Contact, Factory
from crm.values import national_digits

PAIR_MARK = "~"
COMBINATIONS_MAX = 16
# Initials are a letter a character: more of their combinations are kept.
INITIAL_COMBINATIONS_MAX = 64
# Each three characters in a row are also spelled every way (up to this many spellings).
WINDOW = 3
WINDOW_COMBINATIONS_MAX = 27
SPELLINGS_MAX = 24

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
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
def readings_of(character: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(pinyin(character, style=Style.NORMAL, heteronym=True)[0]))


def _sounds(text: str) -> list[tuple[tuple[str, ...], bool]]:
    """Each sound of a text with its readings, the most common first, and whether it is a
    Chinese character: a character is one sound (every reading pypinyin knows, 行 xing and
    hang), a run of other letters or digits is one (itself). Each character's readings are
    looked up once per process."""
    found: list[tuple[tuple[str, ...], bool]] = []
    for run in _RUN.findall(normal(text)):
        if HAN.match(run):
            found.extend((readings_of(character), True) for character in run)
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
