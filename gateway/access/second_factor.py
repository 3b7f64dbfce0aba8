"""The door's short memory of first credentials, for people set to two factors.

When a two-factor person presents a first credential (face, card or PIN) the policy records a
wait here; a second credential of the same person and of ANOTHER kind, within `window_s`,
completes it and opens the door. Waits live in memory only (a restart forgets them, which fails
closed), are bounded, and are shared by the vision thread (faces) and the door thread (cards,
PINs), hence the lock. Clock-injected (monotonic seconds).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from gateway.store.base import Method

Clock = Callable[[], float]
MAX_WAITS = 32  # people waiting at one door at once; the oldest is forgotten beyond that


@dataclass(frozen=True)
class SecondFactorWait:
    """A first credential of a two-factor person, waiting for the second until `expires_at`."""

    person_id: int
    first: Method
    expires_at: float


class SecondFactorWaits:
    """Pending first credentials, per person; thread-safe."""

    def __init__(self, window_s: float, clock: Clock) -> None:
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._waits: OrderedDict[int, SecondFactorWait] = OrderedDict()
        self.counters: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def _expire(self, now: float) -> None:
        for person_id in [p for p, w in self._waits.items() if w.expires_at <= now]:
            del self._waits[person_id]
            self._count("expired")

    def begin(self, person_id: int, first: Method) -> SecondFactorWait:
        """Start (or restart) waiting for this person's second credential."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            wait = SecondFactorWait(person_id, first, now + self.window_s)
            self._waits.pop(person_id, None)
            self._waits[person_id] = wait
            while len(self._waits) > MAX_WAITS:
                self._waits.popitem(last=False)
                self._count("dropped")
            self._count("begun")
            return wait

    def complete(self, person_id: int, second: Method) -> bool:
        """True (and the wait is used up) when this person's first credential, of another kind
        than `second`, is still waiting."""
        with self._lock:
            self._expire(self.clock())
            wait = self._waits.get(person_id)
            if wait is None or wait.first is second:
                return False
            del self._waits[person_id]
            self._count("completed")
            return True

    def waiting_for_pin(self) -> int | None:
        """The person whose PIN a bare `digits #` on the keypad would complete: the newest wait
        that did not start with a PIN; None when nobody waits."""
        with self._lock:
            self._expire(self.clock())
            for wait in reversed(self._waits.values()):
                if wait.first is not Method.PIN:
                    return wait.person_id
            return None

    def pending(self) -> list[SecondFactorWait]:
        with self._lock:
            self._expire(self.clock())
            return list(self._waits.values())
