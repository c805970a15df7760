"""Factories and their contacts."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.stage import STAGES
from crm.models.types import UTCDateTime, utcnow
from crm.models.user import _in

STATUSES = ("prospect", "active", "paused", "churned")
FACTORY_NAME_MAX = 200
CREDIT_CODE_LENGTH = 18
CREDIT_CODE_OVERRIDE_MAX = 500
ADDRESS_MAX = 300
CATEGORY_MAX = 100
URL_MAX = 500
# The predicate of the partial index on unowned prospects (its migration writes the same).
UNOWNED_PROSPECT = "owner_id IS NULL AND status = 'prospect'"
# What the migrations build by hand for one database, with no model: the name search's GIN
# index on PostgreSQL, its FTS5 table (and the tables FTS5 keeps beside it) on SQLite.
NAME_TRIGRAM_INDEX = "ix_factories_name_trgm"
SEARCH_TABLE = "factory_search"
# The search keys' trigram indexes on PostgreSQL, and the contacts' FTS5 table on SQLite
# (crm.services.factories.search).
KEY_TRIGRAM_INDEXES = ("ix_factories_search_key_trgm", "ix_contacts_search_key_trgm")
CONTACT_SEARCH_TABLE = "contact_search"


def in_models(_object, name: str | None, type_: str, reflected: bool, _compare_to) -> bool:
    """Alembic's include_object: leave the search's hand-built objects out of comparisons."""
    if not reflected or name is None:
        return True
    if type_ == "index":
        return name != NAME_TRIGRAM_INDEX and name not in KEY_TRIGRAM_INDEXES
    return not (type_ == "table" and name.startswith((SEARCH_TABLE, CONTACT_SEARCH_TABLE)))


CONTACT_NAME_MAX = 100
CONTACT_ROLE_MAX = 60
CONTACT_PHONE_MAX = 40
WECHAT_MAX = 60


class Factory(db.Model):
    __tablename__ = "factories"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(f"stage IS NULL OR {_in('stage', STAGES)}", name="stage"),
        # A prospect has no stage; every other status keeps one.
        CheckConstraint(
            "(status = 'prospect' AND stage IS NULL) "
            "OR (status != 'prospect' AND stage IS NOT NULL)",
            name="stage_matches_status",
        ),
        CheckConstraint("lat IS NULL OR lat BETWEEN -90 AND 90", name="lat"),
        CheckConstraint("lng IS NULL OR lng BETWEEN -180 AND 180", name="lng"),
        CheckConstraint("(lat IS NULL) = (lng IS NULL)", name="lat_lng_together"),
        CheckConstraint("paused_days >= 0", name="paused_days"),
        CheckConstraint(
            "credit_code_override_reason IS NULL OR credit_code IS NOT NULL",
            name="credit_code_override_has_code",
        ),
        # A rep's factories by status (a rep's scope, its first set), and, read from the index
        # alone, each rep's figures on the team page: their factories per column, overdue and
        # stale (crm.services.pipeline.team_report), a thousand reps' at once for an admin.
        Index(
            "ix_factories_owner_status_stage_dates",
            "owner_id",
            "status",
            "stage",
            "next_follow_up_at",
            "last_visit_at",
            "stage_entered_at",
            "created_at",
        ),
        Index("ix_factories_belt_stage", "belt_id", "stage"),
        # The board at scale (issue 6): a belt's counts, and each of its columns' first page
        # in name order straight from the index; scanned whole (narrower than the table), the
        # organisation's counts. No index leads with status: SQLite would prefer it to a
        # manager's belts and read every factory of a status.
        Index("ix_factories_belt_status_stage_name", "belt_id", "status", "stage", "name"),
        # The category filter's choices, over a belt's factories or all of them.
        Index("ix_factories_belt_category", "belt_id", "category"),
        Index("ix_factories_category", "category"),
        Index("ix_factories_next_follow_up_at", "next_follow_up_at"),
        # The API's sync: factories changed since an instant, paged by update time then id.
        Index("ix_factories_updated_at_id", "updated_at", "id"),
        # A rep's scope, its second set (crm.scope.rep_factory_ids): the team's belts' prospects
        # that no rep owns, by belt, in name order (the first set is
        # ix_factories_owner_status_stage_dates).
        Index(
            "ix_factories_unowned_prospects",
            "belt_id",
            "name",
            "id",
            postgresql_where=text(UNOWNED_PROSPECT),
            sqlite_where=text(UNOWNED_PROSPECT),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(FACTORY_NAME_MAX), index=True)
    # Unified social credit code, upper case, check digit validated (GB 32100-2015).
    credit_code: Mapped[str | None] = mapped_column(String(CREDIT_CODE_LENGTH), unique=True)
    # An admin's record of a code that fails only its check characters (codes issued before
    # the national standard, as in Xiamen's pilot): why, by whom, when; gone when the code
    # changes. Such a code counts as valid (credit_code.stands).
    credit_code_override_reason: Mapped[str | None] = mapped_column(
        String(CREDIT_CODE_OVERRIDE_MAX)
    )
    credit_code_override_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    credit_code_override_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    belt_id: Mapped[int] = mapped_column(ForeignKey("belts.id"))
    category: Mapped[str] = mapped_column(String(CATEGORY_MAX), default="")
    address: Mapped[str] = mapped_column(String(ADDRESS_MAX), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    # Opening hours, local wall-clock times, when known: the day's route arrives within them.
    opens_at: Mapped[time | None] = mapped_column(Time)
    closes_at: Mapped[time | None] = mapped_column(Time)
    shop_url: Mapped[str] = mapped_column(String(URL_MAX), default="")
    is_key_account: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default="prospect")
    stage: Mapped[str | None] = mapped_column(String(12))
    stage_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Days spent paused since entering the stage: they do not count as time in stage.
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Kept for fast lists; the services that change visits and follow-ups keep them true.
    last_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    eligible_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("factories.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The name, its pinyin and initials, the address: what the search finds a factory by,
    # written by crm.services.factories.search_keys on every write.
    search_key: Mapped[str] = mapped_column(Text, default="")

    belt = relationship("Belt")
    owner = relationship("User", foreign_keys=[owner_id])
    credit_code_override_by = relationship("User", foreign_keys=[credit_code_override_by_id])
    contacts = relationship(
        "Contact", back_populates="factory", cascade="all, delete-orphan", order_by="Contact.id"
    )

    @property
    def has_location(self) -> bool:
        return self.lat is not None and self.lng is not None

    def __repr__(self) -> str:
        return f"<Factory {self.id} {self.name!r} {self.status}/{self.stage}>"


# The board's default order, waiting longest first (crm.services.pipeline.board._order): each
# column's first cards walked in that order, their status and stage read from the index, where
# an admin's board sorted every factory of each column (100,000 on the bench's install). It
# leads with the order, not with status: a manager's board keeps reading its belts first.
Index(
    "ix_factories_waiting",
    func.coalesce(Factory.stage_entered_at, Factory.created_at),
    Factory.id,
    Factory.status,
    Factory.stage,
)


# A manager's board, each column's first cards in the same order, read from the belt's own rows
# in that order (a 5,000-factory belt's columns were each sorted whole: 9 ms a board on SQLite).
Index(
    "ix_factories_belt_column_waiting",
    Factory.belt_id,
    Factory.status,
    Factory.stage,
    func.coalesce(Factory.stage_entered_at, Factory.created_at),
    Factory.id,
)


class Contact(db.Model):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    factory_id: Mapped[int] = mapped_column(
        ForeignKey("factories.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(CONTACT_NAME_MAX))
    role: Mapped[str] = mapped_column(String(CONTACT_ROLE_MAX), default="")
    phone: Mapped[str] = mapped_column(String(CONTACT_PHONE_MAX), default="")
    # The phone's digits alone, for search and for tel: links.
    phone_digits: Mapped[str] = mapped_column(String(CONTACT_PHONE_MAX), default="", index=True)
    wechat_id: Mapped[str] = mapped_column(String(WECHAT_MAX), default="")
    # The name, its pinyin and initials, the phone's digits (crm.services.factories.search_keys).
    search_key: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When an admin erased this contact's data (crm.services.privacy.erasure): the row stays,
    # so that the visits that met them keep the link.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    factory = relationship("Factory", back_populates="contacts")


class FactoryMerge(db.Model):
    """A factory merged into another (crm.services.trust.merge): its row is gone, its
    records moved to the kept one; its old id still finds the kept factory (a link, an outbox
    visit addressed to it)."""

    __tablename__ = "factory_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The merged factory's id (no key: the row is deleted), once.
    merged_id: Mapped[int] = mapped_column(Integer, unique=True)
    merged_name: Mapped[str] = mapped_column(String(FACTORY_NAME_MAX))
    kept_id: Mapped[int] = mapped_column(ForeignKey("factories.id", ondelete="CASCADE"), index=True)
    merged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
