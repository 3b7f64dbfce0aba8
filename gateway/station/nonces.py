"""A bounded nonce cache that survives restarts: one small SQLite file of its own.

A nonce is remembered until its command's expiry (plus the clock skew); a command expired by then
is refused by `verify_command` anyway, so forgetting it afterwards opens no replay window. When
`max_entries` unexpired nonces are held, new commands are refused ("full") instead of evicting a
live nonce. Every accepted nonce is committed (synchronous=FULL) before the command runs.

The cache is also the command ledger that makes "exactly one result per command" hold across a
crash: after a command's result is committed to the outbox, `answered` stores that result with the
nonce. A re-delivery (the broker re-sends a command the gateway never acknowledged) then finds the
nonce `seen` together with what happened: answered (its result is already in the outbox) or not
(the gateway died while running it). Failures are raised as they are: a failed COMMIT (a full
disk) is rolled back only when SQLite still has the transaction open, and the original error is
what the caller sees.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

ClaimStatus = Literal["fresh", "seen", "full"]
_COLUMNS = (("claimed_at", "REAL NOT NULL DEFAULT 0"), ("result", "TEXT"))


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a nonce; for `seen`, the stored result when it was answered."""

    status: ClaimStatus
    result: dict[str, Any] | None = None
    claimed_at: float | None = None

    @property
    def answered(self) -> bool:
        return self.result is not None


class NonceCache:
    """Remembers command nonces (and ids, and their results) in `path` until they expire."""

    def __init__(self, path: Path, max_entries: int, keep_after_expiry: timedelta) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.max_entries = max_entries
        self.keep_after_expiry = keep_after_expiry
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS seen_nonce ("
            " nonce TEXT PRIMARY KEY, command_id TEXT NOT NULL, forget_after REAL NOT NULL)"
        )
        present = {str(row[1]) for row in self._db.execute("PRAGMA table_info(seen_nonce)")}
        for column, declaration in _COLUMNS:  # files written before the ledger columns existed
            if column not in present:
                self._db.execute(f"ALTER TABLE seen_nonce ADD COLUMN {column} {declaration}")
        self._db.execute("CREATE INDEX IF NOT EXISTS ix_forget ON seen_nonce (forget_after)")
        self._db.execute("CREATE INDEX IF NOT EXISTS ix_command_id ON seen_nonce (command_id)")

    @contextlib.contextmanager
    def _transaction(self) -> Any:
        """BEGIN IMMEDIATE ... COMMIT; on failure roll back only what is still open, and let the
        original error through (SQLite may already have rolled back after SQLITE_FULL/IOERR)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise

    def claim(self, nonce: str, command_id: str, expires_at: datetime, now: datetime) -> Claim:
        """Record the nonce if it is new; a known nonce or command id is `seen`."""
        forget_after = (expires_at + self.keep_after_expiry).timestamp()
        with self._transaction():
            self._db.execute("DELETE FROM seen_nonce WHERE forget_after < ?", (now.timestamp(),))
            seen = self._db.execute(
                "SELECT result, claimed_at FROM seen_nonce WHERE nonce = ? OR command_id = ?",
                (nonce, command_id),
            ).fetchone()
            if seen is not None:
                result = json.loads(seen[0]) if seen[0] is not None else None
                return Claim("seen", result, float(seen[1]))
            if self._count() >= self.max_entries:
                return Claim("full")
            self._db.execute(
                "INSERT INTO seen_nonce (nonce, command_id, forget_after, claimed_at)"
                " VALUES (?, ?, ?, ?)",
                (nonce, command_id, forget_after, now.timestamp()),
            )
        return Claim("fresh", None, now.timestamp())

    def answered(self, command_id: str, result: dict[str, Any]) -> None:
        """Remember the result of a claimed command (call after it was committed to the outbox)."""
        text = json.dumps(result, separators=(",", ":"), ensure_ascii=False, default=str)
        with self._transaction():
            self._db.execute(
                "UPDATE seen_nonce SET result = ? WHERE command_id = ?", (text, command_id)
            )

    def _count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM seen_nonce").fetchone()
        return int(row[0])

    def __len__(self) -> int:
        with self._lock:
            return self._count()

    def close(self) -> None:
        with self._lock:
            self._db.close()
