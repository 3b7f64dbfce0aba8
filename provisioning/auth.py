"""Login, lockout, sessions and the first-start setup token.

Login always verifies one Argon2id hash (the account's or a dummy), so it takes the same time
whether the account exists or not; failures are counted per account name, existing or not, and
lock that name for a while. Sessions are random tokens (only their digest is stored) with an
idle timeout and an absolute lifetime; each carries its CSRF token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from gateway.store.alerts_audit import append_audit
from gateway.store.engine import Sessions
from provisioning.accounts import (
    LoginThrottle,
    StaffAccount,
    StaffSession,
    account_count,
    digest,
    find_account,
    verify_password,
)
from provisioning.config import ProvisioningConfig

TOUCH_AFTER = timedelta(seconds=30)


@dataclass(frozen=True)
class Principal:
    """The signed-in account as the routes see it."""

    account_id: int
    username: str
    role: str
    csrf_token: str
    session_digest: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class LoginResult:
    token: str | None
    error: str | None  # message key: bad_credentials, locked


class SetupToken:
    """The one-time token printed at first start; consumed by the first admin's setup."""

    def __init__(self) -> None:
        self._digest: str | None = None

    def issue(self) -> str:
        token = secrets.token_urlsafe(18)
        self._digest = digest(token)
        return token

    @property
    def pending(self) -> bool:
        return self._digest is not None

    def consume(self, token: str) -> bool:
        if self._digest is None or not secrets.compare_digest(self._digest, digest(token)):
            return False
        self._digest = None
        return True


class Authenticator:
    """Logins and sessions over the store's database."""

    def __init__(self, sessions: Sessions, settings: ProvisioningConfig) -> None:
        self.sessions = sessions
        self.settings = settings

    def has_accounts(self) -> bool:
        with self.sessions.reading() as session:
            return account_count(session) > 0

    def login(self, username: str, password: str, at: datetime, source: str | None) -> LoginResult:
        username = username.strip()[:64]
        with self.sessions.writing() as session:
            throttle = session.get(LoginThrottle, username)
            account = find_account(session, username)
            ok = verify_password(account, password)  # always one hash check
            if throttle is not None and throttle.locked_until and throttle.locked_until > at:
                return LoginResult(None, "locked")
            if not ok or account is None:
                if self._count_failure(session, throttle, username, at):
                    self._audit(session, username, "login_locked", at, source)
                return LoginResult(None, "bad_credentials")
            if throttle is not None:
                session.delete(throttle)
            self._audit(session, username, "login", at, source)
            return LoginResult(self._open_session(session, account, at, source), None)

    @staticmethod
    def _audit(
        session: Session, username: str, action: str, at: datetime, source: str | None
    ) -> None:
        """Successful logins and lockouts only: single failures would let anyone flood the log."""
        append_audit(
            session,
            actor=username or "-",
            action=action,
            target=f"account:{username}",
            occurred_at=at,
            source_address=source,
        )

    def _count_failure(
        self, session: Session, throttle: LoginThrottle | None, username: str, at: datetime
    ) -> bool:
        """Count one failure; True when it locked the name."""
        if throttle is None:
            throttle = LoginThrottle(username=username, failures=0)
            session.add(throttle)
        throttle.failures = (throttle.failures or 0) + 1
        if throttle.failures >= self.settings.lockout_failures:
            throttle.locked_until = at + timedelta(minutes=self.settings.lockout_minutes)
            throttle.failures = 0
            return True
        return False

    def _open_session(
        self, session: Session, account: StaffAccount, at: datetime, source: str | None
    ) -> str:
        token = secrets.token_urlsafe(32)
        session.add(
            StaffSession(
                token_hash=digest(token),
                account_id=account.id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=at,
                last_seen_at=at,
                source_address=source,
            )
        )
        return token

    def resolve(self, token: str | None, at: datetime) -> Principal | None:
        """The principal of a live session (touching it), or None when absent or expired."""
        if not token:
            return None
        key = digest(token)
        with self.sessions.reading() as session:
            row = session.get(StaffSession, key)
            if row is None:
                return None
            account = session.get(StaffAccount, row.account_id)
            idle = at - row.last_seen_at > timedelta(minutes=self.settings.session_minutes)
            old = at - row.created_at > timedelta(hours=self.settings.session_max_hours)
            stale = at - row.last_seen_at > TOUCH_AFTER
        if account is None or not account.active or idle or old:
            self.logout(key)
            return None
        if stale:  # write the activity time at most every TOUCH_AFTER (the door writes too)
            with self.sessions.writing() as session:
                session.execute(
                    update(StaffSession)
                    .where(StaffSession.token_hash == key)
                    .values(last_seen_at=at)
                )
        return Principal(account.id, account.username, account.role.value, row.csrf_token, key)

    def logout(self, session_digest: str) -> None:
        with self.sessions.writing() as session:
            session.execute(delete(StaffSession).where(StaffSession.token_hash == session_digest))

    def end_sessions_of(self, session: Session, account_id: int) -> None:
        session.execute(delete(StaffSession).where(StaffSession.account_id == account_id))
