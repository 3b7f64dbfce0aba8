"""Declarative base, the UTC timestamp column type and the enumerations the tables share.

Every timestamp is timezone-aware UTC in Python. SQLite has no timestamp type, so there they are
stored as naive UTC text (which sorts and compares correctly); PostgreSQL uses timestamptz.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Dialect, Enum, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every store table; constraint names are deterministic for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that must be timezone-aware on the way in and is UTC-aware on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store times must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    OWNER = "owner"
    TENANT = "tenant"
    FAMILY = "family"
    STAFF = "staff"


class Method(StrEnum):
    FACE = "face"
    CARD = "card"
    CODE = "code"
    PIN = "pin"
    REMOTE = "remote"
    CALL = "call"  # a visitor call: placed, answered, declined, missed (access_event.call_id)
    EXIT = "exit"
    FIRE = "fire"


class Verdict(StrEnum):
    GRANT = "grant"
    DENY = "deny"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


def enum_column(enum_class: type[StrEnum], name: str) -> Enum:
    """A portable enum: VARCHAR plus a named CHECK constraint holding the enum's values."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
