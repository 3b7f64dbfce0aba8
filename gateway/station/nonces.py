"""A bounded nonce cache that survives restarts: one small SQLite file of its own.

A nonce is remembered until its command's expiry (plus the clock skew); a command expired by then
is refused by `verify_command` anyway, so forgetting it afterwards opens no replay window. When
`max_entries` unexpired nonces are held, new commands are refused ("nonce_cache_full") instead of
evicting a live nonce. Every accepted nonce is committed (synchronous=FULL) before the command runs.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

NonceOutcome = Literal["fresh", "replayed", "full"]


class NonceCache:
    """Remembers command nonces (and ids) in `path` until they expire."""

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
        self._db.execute("CREATE INDEX IF NOT EXISTS ix_forget ON seen_nonce (forget_after)")
        self._db.execute("CREATE INDEX IF NOT EXISTS ix_command_id ON seen_nonce (command_id)")

    def claim(
        self, nonce: str, command_id: str, expires_at: datetime, now: datetime
    ) -> NonceOutcome:
        """Record the nonce if it is new; a known nonce or command id is a replay."""
        forget_after = (expires_at + self.keep_after_expiry).timestamp()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "DELETE FROM seen_nonce WHERE forget_after < ?", (now.timestamp(),)
                )
                seen = self._db.execute(
                    "SELECT 1 FROM seen_nonce WHERE nonce = ? OR command_id = ?",
                    (nonce, command_id),
                ).fetchone()
                if seen is not None:
                    outcome: NonceOutcome = "replayed"
                elif self._count() >= self.max_entries:
                    outcome = "full"
                else:
                    self._db.execute(
                        "INSERT INTO seen_nonce (nonce, command_id, forget_after) VALUES (?, ?, ?)",
                        (nonce, command_id, forget_after),
                    )
                    outcome = "fresh"
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return outcome

    def _count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM seen_nonce").fetchone()
        return int(row[0])

    def __len__(self) -> int:
        with self._lock:
            return self._count()

    def close(self) -> None:
        with self._lock:
            self._db.close()
