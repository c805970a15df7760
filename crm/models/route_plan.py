"""A rep's route for a day: the stops they chose, in the order they will take them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow

# The most stops a day's route holds (a rep's day is a dozen; the bench plans 200).
ROUTE_STOPS_MAX = 200


class RoutePlan(db.Model):
    __tablename__ = "route_plans"
    __table_args__ = (UniqueConstraint("user_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)  # the install's local day
    # The factories' ids in the order of the route (a list: the order is the record).
    factory_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Where the rep stood when the order was made (the route's start), if shared.
    start_lat: Mapped[float | None] = mapped_column(Float)
    start_lng: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
