"""Injectable monotonic clocks (nanoseconds) so timing logic is testable without sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], int]

system_clock: Clock = time.monotonic_ns


class ManualClock:
    """A clock that moves only when told to: for the sim backend's scripts and tests."""

    def __init__(self, start_ns: int = 1_000_000_000) -> None:
        self._now_ns = start_ns
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return self._now_ns

    def advance_ms(self, milliseconds: float) -> int:
        if milliseconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        with self._lock:
            self._now_ns += int(milliseconds * 1_000_000)
            return self._now_ns
