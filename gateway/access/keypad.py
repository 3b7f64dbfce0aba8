"""Visitor-code entry on the keypad: digits ended by '#', '*' clears, brute-force lockout.

Pure and clock-injected. The entered code leaves this module only inside `CodeSubmitted` for the
lookup; it is never logged or kept (`repr` hides it). After `max_failures` wrong codes in a row the
keypad locks for `lockout_s` and reports a `KeypadLocked` alert; keys pressed while locked, too
fast (a flood), or that overflow the buffer are dropped and counted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.access.config import KeypadConfig

Clock = Callable[[], float]


@dataclass(frozen=True)
class CodeSubmitted:
    """A complete code to look up; `code` is secret (not shown in repr or logs)."""

    code: str = field(repr=False)


@dataclass(frozen=True)
class KeyRejected:
    reason: str  # locked | flood | overflow | invalid_key | too_short


@dataclass(frozen=True)
class KeypadLocked:
    """Alert: the keypad locked after repeated wrong codes."""

    failures: int
    until: float


KeypadOutcome = CodeSubmitted | KeyRejected | KeypadLocked


class KeypadEntry:
    """Collects keypad keys into codes and enforces the lockout."""

    def __init__(self, config: KeypadConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self._digits: list[str] = []
        self._last_key_at = -1e18
        self._recent_keys: deque[float] = deque()
        self._failures = 0
        self._locked_until = -1e18
        self.counters: dict[str, int] = {}

    @property
    def locked(self) -> bool:
        return self.clock() < self._locked_until

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def _reject(self, reason: str) -> KeyRejected:
        self._count(f"rejected.{reason}")
        return KeyRejected(reason)

    def press(self, key: str) -> KeypadOutcome | None:
        """Feed one key ('0'-'9', '*', '#'); returns what it caused, or None (digit buffered)."""
        now = self.clock()
        if self.locked:
            return self._reject("locked")
        if self._flooding(now):
            self._digits.clear()
            return self._reject("flood")
        if now - self._last_key_at > self.config.entry_timeout_s:
            self._digits.clear()
        self._last_key_at = now
        if key == "*":
            self._digits.clear()
            return None
        if key == "#":
            code = "".join(self._digits)
            self._digits.clear()
            if len(code) < self.config.min_code_length:
                return self._reject("too_short")
            self._count("submitted")
            return CodeSubmitted(code)
        if len(key) != 1 or not key.isdigit():
            return self._reject("invalid_key")
        if len(self._digits) >= self.config.max_code_length:
            self._digits.clear()
            return self._reject("overflow")
        self._digits.append(key)
        return None

    def _flooding(self, now: float) -> bool:
        self._recent_keys.append(now)
        while self._recent_keys and now - self._recent_keys[0] > 1.0:
            self._recent_keys.popleft()
        return len(self._recent_keys) > self.config.max_keys_per_second

    def record_result(self, accepted: bool) -> KeypadLocked | None:
        """Tell the keypad whether the submitted code was valid; may lock it."""
        if accepted:
            self._failures = 0
            return None
        self._failures += 1
        self._count("failed")
        if self._failures >= self.config.max_failures:
            failures = self._failures
            self._failures = 0
            self._locked_until = self.clock() + self.config.lockout_s
            self._digits.clear()
            self._count("lockouts")
            return KeypadLocked(failures, self._locked_until)
        return None
