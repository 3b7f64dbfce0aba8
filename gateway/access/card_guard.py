"""Card-reader brute-force guard: a burst of unknown cards locks the reader for a while.

Someone sweeping card numbers (600 sequential numbers at 13/s in the attack that found this) is
seen as unknown cards in quick succession. More than `max_unknown_cards` of them within
`window_s` lock the reader for `lockout_s`: every card read while locked is refused (a registered
one with reason `card_reader_locked`), and every unknown card read while locked starts the
lockout again, so a sweep that keeps going never gets another lookup. A card in the wrong frame
format counts as unknown. Pure and clock-injected (monotonic seconds); the door thread owns it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gateway.config.access import CardReaderConfig

Clock = Callable[[], float]


@dataclass(frozen=True)
class ReaderLocked:
    """Alert: the reader locked after a burst of unknown cards."""

    unknown_cards: int
    window_s: float
    locked_for_s: float


@dataclass(frozen=True)
class ReaderUnlocked:
    """The lockout ended; how many cards were refused while it lasted."""

    refused: int
    locked_for_s: float


class UnknownCardGuard:
    """Counts unknown cards in a sliding window and holds the reader lockout."""

    def __init__(self, config: CardReaderConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self._unknown: deque[float] = deque()
        self._locked_at: float | None = None
        self._locked_until = -1e18
        self._refused = 0
        self.counters: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    @property
    def locked(self) -> bool:
        return self.clock() < self._locked_until

    def refuse_while_locked(self, known: bool) -> None:
        """A card was read while locked: refused; an unknown one restarts the lockout."""
        self._refused += 1
        self._count("refused_locked")
        if not known:
            self._locked_until = self.clock() + self.config.lockout_s

    def unknown_card(self) -> ReaderLocked | None:
        """Record an unknown (or wrong-format) card; returns the alert when it locks the reader."""
        now = self.clock()
        self._count("unknown")
        self._unknown.append(now)
        while self._unknown and now - self._unknown[0] > self.config.window_s:
            self._unknown.popleft()
        if len(self._unknown) < self.config.max_unknown_cards:
            return None
        burst = len(self._unknown)
        self._unknown.clear()
        self._locked_at = now
        self._locked_until = now + self.config.lockout_s
        self._refused = 0
        self._count("lockouts")
        return ReaderLocked(burst, self.config.window_s, self.config.lockout_s)

    def ended(self) -> ReaderUnlocked | None:
        """Once, after a lockout ran out: what it refused (the door loop turns it into an alert)."""
        if self._locked_at is None or self.locked:
            return None
        lasted = self._locked_until - self._locked_at
        ended = ReaderUnlocked(self._refused, lasted)
        self._locked_at = None
        self._refused = 0
        return ended
