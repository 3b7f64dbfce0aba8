"""Staff accounts and their sessions: passwords, tokens and lookups.

The tables (`prov_account`, `prov_session`) are part of the store's schema
(gateway.store.schema_staff, Alembic revision 0004). Passwords are Argon2id hashes. Session
tokens and setup tokens are stored as SHA-256 digests only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.store.schema_staff import StaffAccount, StaffRole

PASSWORDS = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when the account does not exist, so a login takes the same time either way.
DUMMY_HASH = PASSWORDS.hash("menwei-no-such-account")


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
