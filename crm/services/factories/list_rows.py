"""A factory as a list reads it: the columns of its row, as values, not a record. My factories
and the search read the columns they show (FactoryRow); the API's list, every column it
answers (RecordRow). Both share the page's belts: one record per belt, read with the row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from crm.models import Belt, Factory, User


@dataclass(frozen=True)
class FactoryRow:
    """A factory as the list page shows it: the columns of its row, read as values."""

    id: int
    name: str
    stage: str | None
    status: str
    owner_id: int | None
    last_visit_at: datetime | None
    next_follow_up_at: datetime | None
    eligible_since: datetime | None
    owner_name: str | None
    belt: Belt  # one record per belt of the page, shared by its rows


class Owner(NamedTuple):
    """A factory's rep as the API names them."""

    id: int
    name: str


@dataclass(frozen=True)
class RecordRow:
    """A factory as the API's list answers it: every field it shows, read as values (building
    50 records with their belts and reps was a third of the API list's time)."""

    id: int
    name: str
    credit_code: str | None
    credit_code_override_reason: str | None
    category: str | None
    address: str | None
    lat: float | None
    lng: float | None
    shop_url: str | None
    is_key_account: bool
    status: str
    stage: str | None
    owner_id: int | None
    stage_entered_at: datetime | None
    last_visit_at: datetime | None
    next_follow_up_at: datetime | None
    eligible_since: datetime | None
    created_at: datetime
    updated_at: datetime
    owner_name: str | None
    belt: Belt  # one record per belt of the page, shared by its rows

    @property
    def owner(self) -> Owner | None:
        return None if self.owner_id is None else Owner(self.owner_id, self.owner_name or "")


# What a RecordRow reads, in its fields' order (the belt and the flags follow).
RECORD_COLUMNS = (
    Factory.id,
    Factory.name,
    Factory.credit_code,
    Factory.credit_code_override_reason,
    Factory.category,
    Factory.address,
    Factory.lat,
    Factory.lng,
    Factory.shop_url,
    Factory.is_key_account,
    Factory.status,
    Factory.stage,
    Factory.owner_id,
    Factory.stage_entered_at,
    Factory.last_visit_at,
    Factory.next_follow_up_at,
    Factory.eligible_since,
    Factory.created_at,
    Factory.updated_at,
    User.name,
)


# What a FactoryRow reads, in its fields' order (the belt and the flags follow).
ROW_COLUMNS = (
    Factory.id,
    Factory.name,
    Factory.stage,
    Factory.status,
    Factory.owner_id,
    Factory.last_visit_at,
    Factory.next_follow_up_at,
    Factory.eligible_since,
    User.name,
)
