"""Login, lockout, sessions and the first-start setup token.

An admitted login verifies one Argon2id hash (the account's or a dummy), so it takes the same
time whether the account exists or not. The hash runs outside any store transaction, one at a
time and within a rate budget (`HashBudget`); failures are counted in memory per source and per
(source, name) (`LoginThrottle`), so a flood of bad logins neither writes to the store nor locks
the real admin out from another source. Only a successful login (its session row) and a lockout
(its audit row) write, through the staff page's lane of the store. Sessions are random tokens
(only their digest is stored) with an idle timeout and an absolute lifetime; each carries its
CSRF token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from gateway.config.staff_page import ProvisioningConfig
from gateway.store.alerts_audit import append_audit
from gateway.store.engine import Sessions
from gateway.store.schema_staff import StaffAccount, StaffSession
from provisioning.accounts import account_count, digest, find_account, verify_password
from provisioning.login_throttle import HashBudget, LoginThrottle, source_key

TOUCH_AFTER = timedelta(seconds=30)
# Seconds of password hashing allowed in a burst before the CPU share applies (HashBudget).
HASH_BURST_S = 15.0


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
    error: str | None  # message key: bad_credentials, locked, login_busy

    @property
    def http_status(self) -> int:
        """401 for wrong credentials; 429 when throttled (no password was checked)."""
        return 429 if self.error in ("locked", "login_busy") else 401


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
        self.throttle = LoginThrottle(
            per_name=settings.lockout_failures,
            per_source=settings.lockout_source_failures,
            lockout=timedelta(minutes=settings.lockout_minutes),
        )
        self.hashes = HashBudget(settings.login_cpu_share, HASH_BURST_S)

    def has_accounts(self) -> bool:
        with self.sessions.reading() as session:
            return account_count(session) > 0

    def login(self, username: str, password: str, at: datetime, source: str | None) -> LoginResult:
        username = username.strip()[:64]
        where = source_key(source)
        if not self.throttle.admit(where, username, at):
            return LoginResult(None, "locked")
        if not self.hashes.take(where, at):
            self.throttle.cancel(where, username)
            return LoginResult(None, "login_busy")
        try:
            with self.sessions.reading() as session:
                account = find_account(session, username)
            with self.hashes.hashing():
                ok = verify_password(account, password)  # always one hash check
        except BaseException:
            self.throttle.cancel(where, username)
            raise
        locked = self.throttle.settle(where, username, at, ok=ok)
        if not ok or account is None:
            if locked:
                with self.sessions.writing() as session:
                    self._audit(session, username, "login_locked", at, source)
            return LoginResult(None, "bad_credentials")
        self.hashes.trust(where, at)
        with self.sessions.writing() as session:
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
