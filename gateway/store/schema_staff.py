"""Staff-page accounts and their sessions (the `prov_*` tables), part of the store's schema so
its migrations and pre-migration backups cover them (revision 0004). Passwords are Argon2id
hashes; session tokens are stored as SHA-256 digests only (provisioning.accounts)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.base import Base, UTCDateTime, enum_column


class StaffRole(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"


class StaffAccount(Base):
    __tablename__ = "prov_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(enum_column(StaffRole, "prov_account_role"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StaffSession(Base):
    __tablename__ = "prov_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("prov_account.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source_address: Mapped[str | None] = mapped_column(String(64))
