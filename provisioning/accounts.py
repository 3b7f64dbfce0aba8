"""Staff accounts and their sessions: the page's own small tables.

They live in the store's database but under their own SQLAlchemy metadata, created at app start
(`create_tables`); the store's Alembic migrations do not know them. Passwords are Argon2id hashes.
Session tokens and setup tokens are stored as SHA-256 digests only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, MetaData, String, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from gateway.store.base import UTCDateTime, enum_column
from gateway.store.engine import Sessions


class StaffRole(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"


class AccountBase(DeclarativeBase):
    """Base of the staff page's own tables (not part of the store's migrations)."""

    metadata = MetaData()


class StaffAccount(AccountBase):
    __tablename__ = "prov_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(enum_column(StaffRole, "prov_account_role"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StaffSession(AccountBase):
    __tablename__ = "prov_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("prov_account.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source_address: Mapped[str | None] = mapped_column(String(64))


RETIRED_THROTTLE_TABLE = "prov_login_throttle"
PASSWORDS = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when the account does not exist, so a login takes the same time either way.
DUMMY_HASH = PASSWORDS.hash("menwei-no-such-account")


def create_tables(sessions: Sessions) -> None:
    """Create the page's tables if missing, under the write lock (the door may be writing).

    The login throttle once lived in a table that grew with every invented account name; it is
    kept in bounded memory now (provisioning.login_throttle) and the old table is dropped."""
    with sessions.writing() as session:
        AccountBase.metadata.create_all(session.connection(), checkfirst=True)
        session.execute(text(f"DROP TABLE IF EXISTS {RETIRED_THROTTLE_TABLE}"))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def account_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(StaffAccount)) or 0)


def find_account(session: Session, username: str) -> StaffAccount | None:
    return session.scalars(
        select(StaffAccount).where(StaffAccount.username == username)
    ).one_or_none()


def add_account(
    session: Session, username: str, password_hash: str, role: StaffRole, at: datetime
) -> StaffAccount:
    """Add an account; hash its password with `hash_password` before the transaction."""
    account = StaffAccount(
        username=username,
        password_hash=password_hash,
        role=role,
        active=True,
        created_at=at,
    )
    session.add(account)
    session.flush()
    return account


def hash_password(password: str) -> str:
    return str(PASSWORDS.hash(password))


def verify_password(account: StaffAccount | None, password: str) -> bool:
    """Argon2id check; with no account the dummy hash is checked so timing does not tell."""
    stored = account.password_hash if account is not None else DUMMY_HASH
    ok: bool
    try:
        ok = bool(PASSWORDS.verify(stored, password))
    except (VerificationError, InvalidHashError):
        ok = False
    return ok and account is not None and account.active


def password_problem(password: str, username: str, min_length: int) -> str | None:
    """None when strong enough, else a message key (length, variety, contains the name)."""
    if len(password) < min_length:
        return "password_too_short"
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < 3:
        return "password_too_simple"
    if username and username.lower() in password.lower():
        return "password_has_username"
    return None
