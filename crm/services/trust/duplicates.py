"""Likely duplicates of a factory about to be added or changed: the one check that the prospect
page, the factory edit, the import and the API all ask (DESIGN.md "Scope" for what one out of
scope may say).

A factory is a likely duplicate when it has the same credit code (a refusal, said where the
code is checked: crm.services.factories.edits), a contact with the same phone in any format
(crm.values.national_digits), a similar name once company suffixes, spaces, punctuation
and full-width forms are set aside, or a position within 100 m. A duplicate in the user's
scope is named with its link; one outside it only "exists outside your scope".
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from rapidfuzz import fuzz
from sqlalchemy import or_, select

from crm import scope
from crm.extensions import db
from crm.models import Contact, Factory, User
from crm.services.factories import credit_code as credit_codes
from crm.services.field.geo import distance_m
from crm.values import national_digits

NEARBY_M = 100.0
# Two names whose cores score at least this (rapidfuzz's ratio, 0 to 100) are alike: "宏翔门业"
# and "宏翔门业制品" are, "宏翔门业" and "宏达门业" are not.
SIMILAR_NAME = 85.0
# A name's core held whole in another's counts from this many characters ("门业" is a trade).
HELD_MIN = 4
# A belt's factories compared by name at most (a belt holds a few thousand at the most).
NAME_CANDIDATES = 5_000
SHOWN = 10
# The words a company's name ends with that say what kind of company it is, not which: the
# longest first, taken off again and again ("宁波宏翔门业有限公司" and "宏翔门业厂" keep
# "宁波宏翔门业" and "宏翔门业"). A leading place name stays: two cities' factories of one
# name differ.
SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团公司",
    "分公司",
    "制造厂",
    "加工厂",
    "总厂",
    "公司",
    "工厂",
    "集团",
    "厂",
    "co.,ltd.",
    "co.,ltd",
    "co.ltd",
    "company",
    "limited",
    "factory",
    "corp",
    "ltd",
    "inc",
)
# Spaces and punctuation of either width, and brackets: "宏翔（永康）" and "宏翔(永康)" are alike.
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)

REASONS = ("credit_code", "phone", "name", "nearby")


@dataclass
class Duplicate:
    """A likely duplicate: the factory when in scope (None outside it) and why it looks alike."""

    factory: Factory | None
    reasons: list[str] = field(default_factory=list)
    distance_m: float | None = None

    @property
    def outside_scope(self) -> bool:
        return self.factory is None


@dataclass(frozen=True)
class Candidate:
    """What is known of the factory being added or changed (any part may be missing)."""

    name: str = ""
    phones: tuple[str, ...] = ()
    credit_code: str = ""
    lat: float | None = None
    lng: float | None = None
    belt_id: int | None = None
    exclude_id: int | None = None


def name_key(name: str | None) -> str:
    """The name's core: NFKC (full width to half), lower case, without spaces, punctuation
    and company suffixes."""
    key = _NOT_WORD.sub("", unicodedata.normalize("NFKC", name or "").lower())
    trimmed = True
    while trimmed:
        trimmed = False
        for suffix in SUFFIXES:
            plain = _NOT_WORD.sub("", suffix)
            if key.endswith(plain) and len(key) > len(plain):
                key = key[: -len(plain)]
                trimmed = True
                break
    return key


def similar_names(first: str | None, second: str | None) -> bool:
    """Whether two names are alike once their cores are compared."""
    a, b = name_key(first), name_key(second)
    if not a or not b:
        return False
    shorter, longer = sorted((a, b), key=len)
    # A leading city or a trailing trade word more: "宁波宏翔门业" holds "宏翔门业".
    held = len(shorter) >= HELD_MIN and shorter in longer
    return a == b or held or fuzz.ratio(a, b) >= SIMILAR_NAME


def find(actor: User, candidate: Candidate, on: date) -> list[Duplicate]:
    """The likely duplicates, those in scope first (by how many reasons), then one line for
    all those outside it (never their names)."""
    found: dict[int, Duplicate] = {}
    for reason, ids in (
        ("credit_code", _same_code(candidate)),
        ("phone", _same_phone(candidate)),
        ("name", _similar_name(candidate)),
    ):
        for factory_id in ids:
            _note(found, factory_id, reason)
    for factory_id, metres in _nearby(candidate):
        _note(found, factory_id, "nearby").distance_m = metres
    found.pop(candidate.exclude_id, None)  # type: ignore[arg-type]
    if not found:
        return []
    return _ordered(found, scope.get_factories(actor, found, on))


def code_refused(duplicates: Iterable[Duplicate]) -> bool:
    """A same credit code is a refusal, not a warning (the code is unique)."""
    return any("credit_code" in d.reasons for d in duplicates)


def describe(duplicate: Duplicate, reason: str | None = None) -> str:
    """One duplicate in words: its name and why, or only that it exists outside the scope."""
    if duplicate.outside_scope:
        return _("A factory like this exists outside your scope.")
    factory = duplicate.factory
    assert factory is not None
    reason = reason or duplicate.reasons[0]
    if reason == "phone":
        return _("%(name)s has a contact with this phone.", name=factory.name)
    if reason == "nearby" and duplicate.distance_m is not None:
        return _(
            "%(name)s is %(metres)d m from here.",
            name=factory.name,
            metres=round(duplicate.distance_m),
        )
    if reason == "credit_code":
        return _("%(name)s has this credit code already.", name=factory.name)
    return _("%(name)s has a similar name.", name=factory.name)


def _note(found: dict[int, Duplicate], factory_id: int, reason: str) -> Duplicate:
    duplicate = found.setdefault(factory_id, Duplicate(None))
    if reason not in duplicate.reasons:
        duplicate.reasons.append(reason)
    return duplicate


def _live():
    return Factory.merged_into_id.is_(None)


def _same_code(candidate: Candidate) -> list[int]:
    code = credit_codes.normalise(candidate.credit_code or "")
    if not code:
        return []
    return list(db.session.scalars(select(Factory.id).where(Factory.credit_code == code)))


def _same_phone(candidate: Candidate) -> list[int]:
    digits = {national_digits(phone) for phone in candidate.phones}
    digits = {d for d in digits if len(d) >= 5}
    if not digits:
        return []
    statement = (
        select(Contact.factory_id)
        .join(Factory, Factory.id == Contact.factory_id)
        .where(Contact.phone_digits.in_(sorted(digits)), _live())
        .distinct()
    )
    return list(db.session.scalars(statement))


def _similar_name(candidate: Candidate) -> list[int]:
    """Factories of a similar name: those whose name holds the core (any belt, by the name's
    index) and those of the same belt compared one by one (full-width or reordered names)."""
    key = name_key(candidate.name)
    if not key:
        return []
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    near = [Factory.name.ilike(f"%{escaped}%", escape="\\")]
    if candidate.belt_id is not None:
        near.append(Factory.belt_id == candidate.belt_id)
    rows = db.session.execute(
        select(Factory.id, Factory.name).where(or_(*near), _live()).limit(NAME_CANDIDATES)
    )
    return [factory_id for factory_id, name in rows if similar_names(candidate.name, name)]


def _nearby(candidate: Candidate) -> list[tuple[int, float]]:
    if candidate.lat is None or candidate.lng is None:
        return []
    lat, lng = candidate.lat, candidate.lng
    # A box around the position first (degrees of latitude are ~111 km; of longitude, fewer
    # towards the poles), then the great circle decides.
    d_lat = NEARBY_M / 111_000 * 1.5
    d_lng = d_lat / max(math.cos(math.radians(lat)), 0.01)
    rows = db.session.execute(
        select(Factory.id, Factory.lat, Factory.lng).where(
            Factory.lat.between(lat - d_lat, lat + d_lat),
            Factory.lng.between(lng - d_lng, lng + d_lng),
            _live(),
        )
    )
    found = []
    for factory_id, f_lat, f_lng in rows:
        metres = distance_m(lat, lng, f_lat, f_lng)
        if metres <= NEARBY_M:
            found.append((factory_id, metres))
    return found


# --- many at once (the import) ----------------------------------------------------------------

_USUAL = ("", "厂", "工厂", "公司", "有限公司", "有限责任公司", "股份有限公司")
# A cell of the nearby grid, in degrees: wider than 100 m everywhere the belts are.
_CELL = 0.002


def find_many(actor: User, candidates: list[Candidate], on: date) -> list[list[Duplicate]]:
    """The likely duplicates of each candidate, read in a few statements for a whole file: the
    same phone, the same name's core (no fuzzy comparison: a file can hold 100,000 rows), or
    within 100 m of a factory of the same belts."""
    if not candidates:
        return []
    digits = {national_digits(p) for c in candidates for p in c.phones} - {""}
    by_phone: dict[str, set[int]] = {}
    for part in chunks(sorted(digits)):
        statement = (
            select(Contact.phone_digits, Contact.factory_id)
            .join(Factory, Factory.id == Contact.factory_id)
            .where(Contact.phone_digits.in_(part), _live())
        )
        for phone, factory_id in db.session.execute(statement):
            by_phone.setdefault(phone, set()).add(factory_id)
    belts = sorted({c.belt_id for c in candidates if c.belt_id is not None})
    # Beyond the file's belts, a name as written or its core with a usual suffix.
    names = sorted(
        {c.name for c in candidates if c.name}
        | {name_key(c.name) + suffix for c in candidates if name_key(c.name) for suffix in _USUAL}
    )
    by_key: dict[str, set[int]] = {}
    grid: dict[tuple[int, int], list[tuple[int, float, float]]] = {}
    rows = []
    for part in chunks(belts):
        rows += db.session.execute(
            select(Factory.id, Factory.name, Factory.lat, Factory.lng).where(
                Factory.belt_id.in_(part), _live()
            )
        ).all()
    for part in chunks(names):
        rows += db.session.execute(
            select(Factory.id, Factory.name, Factory.lat, Factory.lng).where(
                Factory.name.in_(part), _live()
            )
        ).all()
    for factory_id, name, lat, lng in rows:
        by_key.setdefault(name_key(name), set()).add(factory_id)
        if lat is not None and lng is not None:
            grid.setdefault(_cell(lat, lng), []).append((factory_id, lat, lng))
    found: list[dict[int, Duplicate]] = []
    for candidate in candidates:
        one: dict[int, Duplicate] = {}
        for phone in candidate.phones:
            for factory_id in by_phone.get(national_digits(phone), ()):
                _note(one, factory_id, "phone")
        for factory_id in by_key.get(name_key(candidate.name), ()) if candidate.name else ():
            _note(one, factory_id, "name")
        for factory_id, metres in _near_in_grid(grid, candidate):
            _note(one, factory_id, "nearby").distance_m = metres
        found.append(one)
    ids = {i for one in found for i in one}
    visible: dict[int, Factory] = {}
    for part in chunks(sorted(ids)):
        visible.update(scope.get_factories(actor, part, on))
    return [_ordered(one, visible) for one in found]


def _ordered(found: dict[int, Duplicate], visible: dict[int, Factory]) -> list[Duplicate]:
    shown = [
        Duplicate(visible[i], sorted(d.reasons, key=REASONS.index), d.distance_m)
        for i, d in found.items()
        if i in visible
    ]
    shown.sort(key=lambda d: (-len(d.reasons), REASONS.index(d.reasons[0]), d.factory.name))
    hidden = [d for i, d in found.items() if i not in visible]
    result = shown[:SHOWN]
    if hidden:
        reasons = sorted({r for d in hidden for r in d.reasons}, key=REASONS.index)
        result.append(Duplicate(None, reasons))
    return result


def _cell(lat: float, lng: float) -> tuple[int, int]:
    return math.floor(lat / _CELL), math.floor(lng / _CELL)


def _near_in_grid(grid: dict, candidate: Candidate) -> list[tuple[int, float]]:
    if candidate.lat is None or candidate.lng is None:
        return []
    row, column = _cell(candidate.lat, candidate.lng)
    near = []
    for d_row in (-1, 0, 1):
        for d_column in (-1, 0, 1):
            for factory_id, lat, lng in grid.get((row + d_row, column + d_column), ()):
                metres = distance_m(candidate.lat, candidate.lng, lat, lng)
                if metres <= NEARBY_M:
                    near.append((factory_id, metres))
    return near


def chunks(items: list, size: int = 2_000) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]
