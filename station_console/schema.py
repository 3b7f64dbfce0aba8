"""The console's tables (PostgreSQL, created by the Alembic migrations in `migrations/`).

Events are keyed by the envelope id, so a re-delivered or replayed message is written once.
`sc_gateway` keeps each gateway's sequence watermark (`complete_up_to`: every seq at or below it
is stored) and its latest status and telemetry; alerts keep their snapshot and who acknowledged
and owns them; `sc_command` is every command the station sent and the gateway's result;
`sc_call` follows each visitor call, with the caller's snapshot only while the call rings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


Stamp = DateTime(timezone=True)


class GatewayRow(Base):
    __tablename__ = "sc_gateway"
    __table_args__ = (UniqueConstraint("site", "gateway", name="uq_sc_gateway_site_gateway"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(Stamp)
    last_seen: Mapped[datetime] = mapped_column(Stamp)
    last_telemetry_at: Mapped[datetime | None] = mapped_column(Stamp)
    availability: Mapped[str | None] = mapped_column(String(16))
    highest_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    complete_up_to: Mapped[int] = mapped_column(BigInteger, default=0)
    model_id: Mapped[str | None] = mapped_column(String(128))
    telemetry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class EventRow(Base):
    __tablename__ = "sc_event"
    __table_args__ = (
        UniqueConstraint("site", "gateway", "seq", name="uq_sc_event_site_gateway_seq"),
        Index("ix_sc_event_occurred", "occurred_at"),
        Index("ix_sc_event_person", "person"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the envelope id (UUIDv7)
    site: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(Stamp)
    occurred_at: Mapped[datetime] = mapped_column(Stamp)
    received_at: Mapped[datetime] = mapped_column(Stamp)
    replayed: Mapped[bool] = mapped_column(Boolean, default=False)
    door: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str | None] = mapped_column(String(16))
    verdict: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    person: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class AlertRow(Base):
    __tablename__ = "sc_alert"
    __table_args__ = (Index("ix_sc_alert_open", "acknowledged_at", "occurred_at"),)

    event_id: Mapped[str] = mapped_column(
        ForeignKey("sc_event.id", ondelete="CASCADE"), primary_key=True
    )
    site: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(Stamp)
    received_at: Mapped[datetime] = mapped_column(Stamp)
    snapshot: Mapped[bytes | None] = mapped_column(LargeBinary)
    snapshot_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(Stamp)
    assigned_to: Mapped[str | None] = mapped_column(String(64))


class TelemetryRow(Base):
    __tablename__ = "sc_telemetry"
    __table_args__ = (Index("ix_sc_telemetry_gateway_at", "site", "gateway", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(Stamp)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class CommandRow(Base):
    __tablename__ = "sc_command"
    __table_args__ = (Index("ix_sc_command_sent", "sent_at"),)

    command_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    site: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(64))
    issued_by: Mapped[str] = mapped_column(String(128))
    summary: Mapped[str] = mapped_column(Text, default="")  # args without secrets
    sent_at: Mapped[datetime] = mapped_column(Stamp)
    expires_at: Mapped[datetime] = mapped_column(Stamp)
    result_ok: Mapped[bool | None] = mapped_column(Boolean)
    result_error: Mapped[str | None] = mapped_column(String(64))
    result_message: Mapped[str | None] = mapped_column(Text)
    result_at: Mapped[datetime | None] = mapped_column(Stamp)


class CallRow(Base):
    """A visitor call as the station follows it from its `visitor_call` messages. The caller's
    snapshot is kept only while the call rings (state `ringing`) and set to NULL when it ends."""

    __tablename__ = "sc_call"
    __table_args__ = (Index("ix_sc_call_state_received", "state", "received_at"),)

    call_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(64))
    door: Mapped[str] = mapped_column(String(64))
    unit: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))  # ringing accepted declined missed unresolved
    placed_at: Mapped[datetime] = mapped_column(Stamp)
    received_at: Mapped[datetime] = mapped_column(Stamp)
    ended_at: Mapped[datetime | None] = mapped_column(Stamp)
    answered_by: Mapped[str | None] = mapped_column(String(128))
    answer_command_id: Mapped[str | None] = mapped_column(String(36))
    last_refusal: Mapped[str | None] = mapped_column(String(64))
    snapshot: Mapped[bytes | None] = mapped_column(LargeBinary)
    snapshot_truncated: Mapped[bool] = mapped_column(Boolean, default=False)


class AccountRow(Base):
    __tablename__ = "sc_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # admin, operator, viewer
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Stamp)


class SessionRow(Base):
    __tablename__ = "sc_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("sc_account.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Stamp)
    last_seen_at: Mapped[datetime] = mapped_column(Stamp)


class AuditRow(Base):
    __tablename__ = "sc_audit"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(Stamp, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str | None] = mapped_column(String(64))
