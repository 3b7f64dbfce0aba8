"""Named error and event counters, shared by a backend and the code that reports its health."""

from __future__ import annotations

import threading
from collections.abc import Mapping


class Counters:
    """Thread-safe monotonically increasing counters, e.g. `rejected.wiegand.parity`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = {}

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] = self._values.get(name, 0) + amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._values.get(name, 0)

    def snapshot(self) -> Mapping[str, int]:
        """A copy, safe to log or serialise."""
        with self._lock:
            return dict(self._values)

    def total(self, prefix: str) -> int:
        """Sum of every counter whose name starts with `prefix`."""
        with self._lock:
            return sum(v for k, v in self._values.items() if k.startswith(prefix))
