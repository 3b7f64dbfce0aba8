"""What the staff page refused or could not finish, counted by name, and shown as a health line.

One `WebCounters` per app (in `AppContext`): the upload gate counts refused bodies, the photo
checks count refused images, the erase routes count erasures whose WAL could not be cleared.
The dashboard and `GET /api/v1/status` show the counts as the "staff page" health check, which
is not OK while a fault is standing (the last erasure could not clear the WAL).
"""

from __future__ import annotations

import threading

from gateway.application.status import HealthCheck


class WebCounters:
    """Thread-safe named counters (the event loop and the threadpool both count)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._faults: set[str] = set()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts.get(name, 0)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def set_fault(self, name: str, standing: bool) -> None:
        """A fault stands until the same operation succeeds again (then it is cleared)."""
        with self._lock:
            if standing:
                self._faults.add(name)
            else:
                self._faults.discard(name)

    def faults(self) -> list[str]:
        with self._lock:
            return sorted(self._faults)

    def health(self) -> HealthCheck:
        counts = ", ".join(f"{name} {count}" for name, count in self.snapshot().items())
        faults = self.faults()
        detail = "; ".join(part for part in (", ".join(faults), counts) if part)
        return HealthCheck("staff page", not faults, detail or "nothing refused")
