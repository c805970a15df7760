"""Industrial belts, the teams that hold them, and reps standing in for each other."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Column, Date, Float, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db

BELT_CODE_MAX = 40
TEAM_NAME_MAX = 100

team_managers = Table(
    "team_managers",
    db.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(TEAM_NAME_MAX), unique=True)

    managers = relationship("User", secondary=team_managers, back_populates="led_teams")
    reps = relationship("User", foreign_keys="User.team_id", back_populates="team")
    belts = relationship("Belt", back_populates="team", order_by="Belt.code")


class Belt(db.Model):
    """An industrial belt: a cluster of factories of one trade in one place."""

    __tablename__ = "belts"
    __table_args__ = (
        CheckConstraint("lat BETWEEN -90 AND 90", name="lat"),
        CheckConstraint("lng BETWEEN -180 AND 180", name="lng"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(BELT_CODE_MAX), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    city_zh: Mapped[str] = mapped_column(String(60))
    city_en: Mapped[str] = mapped_column(String(60))
    province_zh: Mapped[str] = mapped_column(String(60))
    province_en: Mapped[str] = mapped_column(String(60))
    category_zh: Mapped[str] = mapped_column(String(200))
    category_en: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)

    team = relationship("Team", back_populates="belts")

    def name_for(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


class Leave(db.Model):
    """A rep away for some days, and the rep who sees their factories meanwhile."""

    __tablename__ = "leaves"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="dates_in_order"),
        CheckConstraint("rep_id != stand_in_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    stand_in_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Days in the install's time zone, both included.
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)

    rep = relationship("User", foreign_keys=[rep_id])
    stand_in = relationship("User", foreign_keys=[stand_in_id])
