"""Reconnect delays: exponential, bounded, jittered so gateways do not all retry in step."""

from __future__ import annotations

import random


class ExponentialBackoff:
    """Delay before attempt n (1-based): min_s * factor**(n-1), capped at max_s, jittered.

    The jitter scales the delay by a factor drawn uniformly from [1 - jitter, 1 + jitter]; the
    result never exceeds `max_s` and never drops below zero.
    """

    def __init__(
        self,
        min_s: float,
        max_s: float,
        *,
        factor: float = 2.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < min_s <= max_s:
            raise ValueError("need 0 < min_s <= max_s")
        if factor < 1.0 or not 0.0 <= jitter <= 1.0:
            raise ValueError("need factor >= 1 and 0 <= jitter <= 1")
        self.min_s = min_s
        self.max_s = max_s
        self.factor = factor
        self.jitter = jitter
        self._rng = rng or random.Random()

    def base_delay(self, attempt: int) -> float:
        """Delay before jitter for failed attempt `attempt` (1-based)."""
        exponent = max(0, attempt - 1)
        if exponent > 64:  # avoid float overflow; the cap applies long before
            return self.max_s
        return float(min(self.max_s, self.min_s * self.factor**exponent))

    def delay(self, attempt: int) -> float:
        """Jittered delay for failed attempt `attempt`, within [0, max_s]."""
        base = self.base_delay(attempt)
        scale = 1.0 + self._rng.uniform(-self.jitter, self.jitter) if self.jitter else 1.0
        return min(self.max_s, max(0.0, base * scale))
