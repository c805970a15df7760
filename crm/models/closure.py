"""A factory's closure: days it is shut (the Spring Festival break, a move), entered by its rep."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow

CLOSURE_REASON_MAX = 200


class FactoryClosure(db.Model):
    """Days, both included, when a factory is closed: due dates skip them."""

    __tablename__ = "factory_closures"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
        Index("ix_factory_closures_factory_ends", "factory_id", "ends_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.id", ondelete="CASCADE"))
    # Days in the install's time zone, both included.
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(CLOSURE_REASON_MAX), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    factory = relationship("Factory")
