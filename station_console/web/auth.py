"""Accounts, roles, sessions with CSRF tokens, and the audit log of the console.

The staff page's model (provisioning): Argon2id password hashes, random session tokens stored
only as SHA-256 digests with an idle timeout and an absolute lifetime, one CSRF token per
session, failed logins throttled in memory per source and per (source, name) by provisioning's
`LoginThrottle`. Roles: `viewer` reads, `operator` also acknowledges alerts and sends commands,
`admin` also reads the audit log.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from provisioning.login_throttle import LoginThrottle, source_key
from station_console.config import WebSection
from station_console.db import Database
from station_console.schema import AccountRow, AuditRow, SessionRow

ROLES = ("viewer", "operator", "admin")
PASSWORDS = PasswordHasher()
DUMMY_HASH = PASSWORDS.hash("menwei-station-no-such-account")
TOUCH_AFTER = timedelta(seconds=30)


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    csrf_token: str
    session_digest: str

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_account(session: Session, username: str, password: str, role: str, at: datetime) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not 1 <= len(username) <= 64 or len(password) < 10:
        raise ValueError("account name 1-64 characters, password at least 10")
    session.add(
        AccountRow(
            username=username,
            password_hash=PASSWORDS.hash(password),
            role=role,
            active=True,
            created_at=at,
        )
    )


def audit(
    session: Session,
    actor: str,
    action: str,
    target: str,
    at: datetime,
    detail: str = "",
    source: str | None = None,
) -> None:
    session.add(
        AuditRow(
            at=at, actor=actor, action=action, target=target[:200], detail=detail, source=source
        )
    )


class Authenticator:
    def __init__(self, database: Database, settings: WebSection) -> None:
        self.database = database
        self.settings = settings
        self.throttle = LoginThrottle(per_name=5, per_source=20, lockout=timedelta(minutes=15))

    def login(self, username: str, password: str, at: datetime, source: str | None) -> str | None:
        """A new session token, or None (wrong credentials or throttled: same answer)."""
        username = username.strip()[:64]
        where = source_key(source)
        if not self.throttle.admit(where, username, at):
            return None
        with self.database.session() as session:
            account = session.scalars(
                select(AccountRow).where(AccountRow.username == username)
            ).one_or_none()
            stored = account.password_hash if account is not None and account.active else None
        try:
            ok = PASSWORDS.verify(stored or DUMMY_HASH, password) and stored is not None
        except (VerificationError, InvalidHashError):
            ok = False
        locked = self.throttle.settle(where, username, at, ok=ok)
        with self.database.session() as session:
            if not ok or account is None:
                if locked:
                    audit(
                        session,
                        username or "-",
                        "login_locked",
                        f"account:{username}",
                        at,
                        source=source,
                    )
                return None
            token = secrets.token_urlsafe(32)
            session.add(
                SessionRow(
                    token_hash=digest(token),
                    account_id=account.id,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=at,
                    last_seen_at=at,
                )
            )
            audit(session, username, "login", f"account:{username}", at, source=source)
            return token

    def resolve(self, token: str | None, at: datetime) -> Principal | None:
        if not token:
            return None
        key = digest(token)
        with self.database.session() as session:
            row = session.get(SessionRow, key)
            account = None if row is None else session.get(AccountRow, row.account_id)
            if row is None or account is None:
                return None
            idle = at - row.last_seen_at > timedelta(minutes=self.settings.session_minutes)
            old = at - row.created_at > timedelta(hours=self.settings.session_max_hours)
            if idle or old or not account.active:
                session.execute(delete(SessionRow).where(SessionRow.token_hash == key))
                return None
            if at - row.last_seen_at > TOUCH_AFTER:
                session.execute(
                    update(SessionRow).where(SessionRow.token_hash == key).values(last_seen_at=at)
                )
            return Principal(account.username, account.role, row.csrf_token, key)

    def logout(self, principal: Principal) -> None:
        with self.database.session() as session:
            session.execute(
                delete(SessionRow).where(SessionRow.token_hash == principal.session_digest)
            )
