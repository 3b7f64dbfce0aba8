"""Credential tables: encrypted face templates, Wiegand cards, PIN hashes, visitor codes,
watch-list entries and the sync versions of the station's deltas."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime, utc_now


class FaceTemplate(Base):
    """An AES-256-GCM encrypted embedding; associated data binds it to person, model, dimension."""

    __tablename__ = "face_template"
    __table_args__ = (CheckConstraint("dimension > 0", name="dimension_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    consent_id: Mapped[int] = mapped_column(
        ForeignKey("consent.id", ondelete="RESTRICT"), index=True
    )
    model_id: Mapped[str] = mapped_column(String(64), index=True)
    dimension: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


def smallest_card_format(facility: int, number: int) -> int:
    """The shortest Wiegand format whose fields hold (facility, number): 26, 34 or 37 bits.

    Used for cards registered without a format (station deltas, the 0003 migration)."""
    if facility <= 0xFF and number <= 0xFFFF:
        return 26
    if number <= 0xFFFF:
        return 34
    return 37


def _default_card_format(context: Any) -> int:
    values = context.get_current_parameters()
    return smallest_card_format(int(values["facility"]), int(values["number"]))


class Card(Base):
    """A Wiegand card: facility code + card number (unique across the store), bound to the
    frame format it is read in: the same fields arriving in another format are not this card."""

    __tablename__ = "card"
    __table_args__ = (
        UniqueConstraint("facility", "number"),
        CheckConstraint("facility >= 0 AND number >= 0", name="non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    facility: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    format_bits: Mapped[int] = mapped_column(
        Integer, default=_default_card_format, server_default="26"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class Pin(Base):
    """A person's keypad PIN, argon2id-hashed (one per person)."""

    __tablename__ = "pin"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    pin_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class VisitorCode(Base):
    """A visitor keypad code, stored as HMAC-SHA256(site secret, code): looked up by equality."""

    __tablename__ = "visitor_code"
    __table_args__ = (
        CheckConstraint("max_uses >= 1 AND use_count >= 0", name="uses_positive"),
        CheckConstraint("use_count <= max_uses", name="uses_bounded"),
        CheckConstraint("valid_until > valid_from", name="window_ordered"),
        Index("ix_visitor_code_site_id_code_hash", "site_id", "code_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"))
    code_hash: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    issued_by_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    issued_by: Mapped[str] = mapped_column(String(128))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    max_uses: Mapped[int] = mapped_column(Integer)
    use_count: Mapped[int] = mapped_column(Integer, default=0)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class VisitorCodeDoor(Base):
    """The doors a visitor code opens (at least one is written at issue)."""

    __tablename__ = "visitor_code_door"

    code_id: Mapped[int] = mapped_column(
        ForeignKey("visitor_code.id", ondelete="CASCADE"), primary_key=True
    )
    door_id: Mapped[int] = mapped_column(
        ForeignKey("door.id", ondelete="CASCADE"), primary_key=True
    )


class WatchlistEntry(Base):
    """A watch-list template pushed by the station, encrypted like face templates."""

    __tablename__ = "watchlist_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[str] = mapped_column(String(64), index=True)
    dimension: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class SyncVersion(Base):
    """The last station delta applied per stream ("people", "watchlist"); only moves forward."""

    __tablename__ = "sync_version"

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class ConfusableCheck(Base):
    """One run of the confusable-faces check: for which model and threshold, what it found.

    Start-up compares the newest row with the running model and threshold and runs the check
    again when either changed."""

    __tablename__ = "confusable_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[str] = mapped_column(String(64))
    threshold: Mapped[float] = mapped_column(Float)
    people: Mapped[int] = mapped_column(Integer)
    pairs: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(32))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
