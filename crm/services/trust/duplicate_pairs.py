"""The likely duplicates of a belt (issue 22, "One factory, one row"): the check made when a
factory is added (crm.services.trust.duplicates.find_many) run over every factory of the
belt, as pairs for a manager or admin to look at and merge. A pair is listed when the two share
a contact's phone or the core of their name, or are within 100 m of each other with similar
names; within 100 m alone is a neighbour in the same industrial park more often than a
duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from crm import scope
from crm.extensions import db
from crm.models import Contact, Factory, User
from crm.services.trust.duplicates import (
    REASONS,
    Candidate,
    chunks,
    find_many,
    similar_names,
)

# The pairs a page shows at most; a belt with more has a data problem a list cannot fix.
MOST = 200
STRONG = frozenset({"phone", "name", "credit_code"})


@dataclass
class Pair:
    first: Factory
    second: Factory
    reasons: list[str]
    distance_m: float | None = None


def pairs(actor: User, belt_id: int, on: date) -> list[Pair]:
    """The belt's likely duplicate pairs in the actor's scope, the most reasons first."""
    factories = list(
        db.session.scalars(
            scope.factories(actor, on).where(Factory.belt_id == belt_id).order_by(Factory.id)
        )
    )
    if not factories:
        return []
    phones: dict[int, list[str]] = {}
    ids = [factory.id for factory in factories]
    for part in chunks(ids):
        for factory_id, phone in db.session.execute(
            select(Contact.factory_id, Contact.phone).where(Contact.factory_id.in_(part))
        ):
            phones.setdefault(factory_id, []).append(phone)
    candidates = [
        Candidate(
            name=factory.name,
            phones=tuple(phones.get(factory.id, ())),
            lat=factory.lat,
            lng=factory.lng,
            belt_id=belt_id,
            exclude_id=factory.id,
        )
        for factory in factories
    ]
    by_id = {factory.id: factory for factory in factories}
    found: dict[tuple[int, int], Pair] = {}
    for factory, duplicates in zip(factories, find_many(actor, candidates, on), strict=True):
        for duplicate in duplicates:
            other = duplicate.factory
            if other is None or other.id == factory.id or other.id not in by_id:
                continue
            reasons = list(duplicate.reasons)
            # Neighbours are compared by name one by one (the belt-wide check matches the core
            # of a name exactly): "永康市宏翔门业有限公司" next door to "宏翔门业" is one factory.
            near = "name" not in reasons and "nearby" in reasons
            if near and similar_names(factory.name, other.name):
                reasons.insert(0, "name")
            if not STRONG & set(reasons):
                continue
            key = (min(factory.id, other.id), max(factory.id, other.id))
            if key not in found:
                found[key] = Pair(by_id[key[0]], by_id[key[1]], reasons, duplicate.distance_m)
    listed = sorted(
        found.values(),
        key=lambda pair: (-len(pair.reasons), REASONS.index(pair.reasons[0]), pair.first.name),
    )
    return listed[:MOST]
