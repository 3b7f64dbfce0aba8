"""Enrolment candidates between "analyse" and "save": in memory only, bound to the staff account.

The photos themselves are never kept here, only what was learned from them (embedding, quality,
duplicate hit) plus the JPEG bytes when the admin enabled keeping photos. Candidates expire after
a few minutes and are dropped once used, so nothing biometric lingers.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from gateway.application.enrol_photos import PhotoResult

TTL_S = 600.0


@dataclass
class Candidate:
    account_id: int
    person_id: int
    consent_at: float
    photos: list[PhotoResult]
    created: float = field(default_factory=time.monotonic)

    @property
    def has_duplicate(self) -> bool:
        return any(p.duplicate_of for p in self.photos if p.usable)

    @property
    def good_photos(self) -> int:
        return sum(1 for p in self.photos if p.usable)


class PendingEnrolments:
    """Thread-safe map of candidate id -> Candidate, with expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Candidate] = {}

    def put(self, candidate: Candidate) -> str:
        key = secrets.token_urlsafe(16)
        with self._lock:
            self._expire()
            self._items[key] = candidate
        return key

    def take(self, key: str, account_id: int, person_id: int) -> Candidate | None:
        """Remove and return the candidate when it belongs to this account and person."""
        with self._lock:
            self._expire()
            candidate = self._items.get(key)
            if candidate is None or (candidate.account_id, candidate.person_id) != (
                account_id,
                person_id,
            ):
                return None
            return self._items.pop(key)

    def restore(self, key: str, candidate: Candidate) -> None:
        """Put a taken candidate back (staff still has to confirm a warning)."""
        with self._lock:
            self._items[key] = candidate

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, c in self._items.items() if now - c.created > TTL_S]:
            del self._items[key]
