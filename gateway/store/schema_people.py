"""Tables for places and people: site, building, unit, door, person, weekly schedule, consent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, Role, UTCDateTime, enum_column, utc_now


class Site(Base):
    """A residential compound (小区) with its standard Chinese address and its local time zone."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    province: Mapped[str] = mapped_column(String(64))  # 省
    city: Mapped[str] = mapped_column(String(64))  # 市
    district: Mapped[str] = mapped_column(String(64))  # 区/县
    street: Mapped[str] = mapped_column(String(128))  # 街道
    community: Mapped[str] = mapped_column(String(128))  # 社区/居委会
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")


class Building(Base):
    """A building (楼/栋) of a site, identified by its number within the site."""

    __tablename__ = "building"
    __table_args__ = (UniqueConstraint("site_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"), index=True)
    number: Mapped[str] = mapped_column(String(32))  # 楼号, e.g. "3" or "3A"
    name: Mapped[str | None] = mapped_column(String(200))


class Unit(Base):
    """A dwelling: stairwell unit (单元) and room (室) numbers within a building."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("building_id", "unit_number", "room_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id", ondelete="RESTRICT"), index=True
    )
    unit_number: Mapped[str] = mapped_column(String(16))
    room_number: Mapped[str] = mapped_column(String(16))


class Door(Base):
    """A controlled door of a building; one gateway serves it."""

    __tablename__ = "door"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id", ondelete="RESTRICT"), index=True
    )
    gateway_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))


class Person(Base):
    """A resident or staff member. Erased people keep only this row, with a pseudonym and no name.

    Validity: active, not erased, valid_from <= t < valid_until; a tenant with no valid_until is
    never valid (tenancies must end). Schedules, when present, further restrict the hours.
    """

    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint("valid_until IS NULL OR valid_until > valid_from", name="validity_ordered"),
        CheckConstraint("(erased_at IS NULL) = (pseudonym IS NULL)", name="erased_has_pseudonym"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role, "person_role"))
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True
    )
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Face alone, or a card alone, does not open the door for this person: a second, different
    # credential of the same person (face + PIN/card, card + PIN) must follow within the window.
    two_factor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Who asked for it: "staff" (set on the page or API) or "confusable" (the face check found
    # another resident within the grant threshold).
    two_factor_source: Mapped[str | None] = mapped_column(String(16))
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pseudonym: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)


class WeeklyWindow(Base):
    """One allowed time window on one weekday (0 = Monday), in the site's local time."""

    __tablename__ = "weekly_window"
    __table_args__ = (
        CheckConstraint("day_of_week BETWEEN 0 AND 6", name="day_of_week_range"),
        CheckConstraint(
            "start_minute >= 0 AND start_minute < end_minute AND end_minute <= 1440",
            name="minutes_ordered",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    day_of_week: Mapped[int] = mapped_column(SmallInteger)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)


class Consent(Base):
    """A consent to face recognition: who took it, when, which text version; withdrawal is dated.

    After erasure the row stays as evidence that consent existed, but person_id is cleared and
    the person's pseudonym is kept instead.
    """

    __tablename__ = "consent"
    __table_args__ = (CheckConstraint("scope = 'face'", name="scope_face"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    person_pseudonym: Mapped[str | None] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16), default="face")
    text_version: Mapped[str] = mapped_column(String(32))
    taken_by: Mapped[str] = mapped_column(String(128))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
