"""Rate limit for the results of unauthenticated refusals (a token bucket).

Anyone who can publish on a `cmd/` topic can make the gateway refuse a message (unsigned, bad
signature, malformed, too large): without a limit every such message became an outbox row and a
publish, so a flood filled the outbox and delayed real results. Up to `per_minute` of these results
are written (the bucket starts full, so a burst of that size passes); the rest are counted, and
the next result written carries `data.suppressed` = how many were left out since the last one.
Signed commands are never limited here: only the station can produce them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RefusalLimiter:
    """Token bucket: `per_minute` tokens, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.suppressed_total = 0
        self._tokens = self.capacity
        self._since_last = 0
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """None when this refusal's result must be left out (counted); otherwise how many were
        left out since the last result written (to report with this one)."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens < 1.0:
                self._since_last += 1
                self.suppressed_total += 1
                return None
            self._tokens -= 1.0
            left_out, self._since_last = self._since_last, 0
            return left_out
