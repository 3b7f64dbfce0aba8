"""Event tables: access events (no biometric data), alerts, the append-only audit log, and the
outbox for the station link with its per-gateway sequence counter."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, Method, Severity, UTCDateTime, Verdict, enum_column


class AccessEvent(Base):
    """One door decision. person_id is cleared and person_pseudonym set when a person is erased."""

    __tablename__ = "access_event"
    __table_args__ = (
        Index("ix_access_event_door_id_occurred_at", "door_id", "occurred_at"),
        Index("ix_access_event_person_id_occurred_at", "person_id", "occurred_at"),
        Index("ix_access_event_occurred_at", "occurred_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    door_id: Mapped[int] = mapped_column(ForeignKey("door.id", ondelete="RESTRICT"))
    method: Mapped[Method] = mapped_column(enum_column(Method, "access_method"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    person_pseudonym: Mapped[str | None] = mapped_column(String(64))
    verdict: Mapped[Verdict] = mapped_column(enum_column(Verdict, "access_verdict"))
    reason_code: Mapped[str] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    call_id: Mapped[str | None] = mapped_column(String(64))  # the visitor call it belongs to


class Alert(Base):
    """Something a guard should look at; the snapshot is a bounded JPEG or a file path."""

    __tablename__ = "alert"
    __table_args__ = (
        Index("ix_alert_acknowledged_at_occurred_at", "acknowledged_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[Severity] = mapped_column(enum_column(Severity, "alert_severity"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    door_id: Mapped[int | None] = mapped_column(ForeignKey("door.id", ondelete="RESTRICT"))
    snapshot_path: Mapped[str | None] = mapped_column(String(500))
    snapshot_jpeg: Mapped[bytes | None] = mapped_column(LargeBinary)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """Who did what to what, when, from where. Append-only: database triggers refuse changes."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    source_address: Mapped[str | None] = mapped_column(String(64))


class OutboxMessage(Base):
    """A message for the station, numbered by a gapless per-gateway sequence."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("gateway_id", "seq"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index(
            "ix_outbox_pending",
            "gateway_id",
            "seq",
            sqlite_where=text("delivered_at IS NULL"),
            postgresql_where=text("delivered_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )  # whose data the payload holds, so erasure can pseudonymise it


class OutboxCounter(Base):
    """The last sequence number handed out per gateway (bumped first, so writers serialise)."""

    __tablename__ = "outbox_counter"

    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)
