"""Keypad entry: visitor codes, resident PINs, '*' clears, one brute-force lockout for both.

Grammar (docs/keypad.md), the "user number + PIN" entry of Hikvision/ZKTeco terminals:

* `digits #`            a visitor code (or, while the door waits for a two-factor person's second
                        credential, that person's PIN);
* `# number # PIN #`    a resident PIN: the resident number shown on the person's page, then the
                        PIN, so the door checks ONE argon2 hash, never every resident's;
* `# # unit #`           a visitor call: the unit (room) number, then the call key (`#`);
                        the call desk rings the unit's residents through the station;
* `*`                   clears whatever was typed.

Pure and clock-injected. What is typed leaves this module only inside `CodeSubmitted` or
`PinSubmitted`; it is never logged or kept (`repr` hides it). After `max_failures` wrong codes
or PINs in a row the keypad locks for `lockout_s` and reports a `KeypadLocked` alert; keys pressed
while locked, too fast (a flood), or that overflow the buffer are dropped and counted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from gateway.config.access import KeypadConfig

Clock = Callable[[], float]


@dataclass(frozen=True)
class CodeSubmitted:
    """A complete code to look up; `code` is secret (not shown in repr or logs)."""

    code: str = field(repr=False)


@dataclass(frozen=True)
class PinSubmitted:
    """A resident number and PIN (`# number # PIN #`); the PIN is secret (not in repr/logs)."""

    resident_number: str
    pin: str = field(repr=False)


@dataclass(frozen=True)
class CallSubmitted:
    """A visitor call: `# # unit #` (not a secret; calls are not guesses and never lock)."""

    unit: str


PIN_MIN_LENGTH = 4
PIN_MAX_LENGTH = 12
CALL_MAX_LENGTH = 8


class _Mode(Enum):
    CODE = "code"  # digits for a visitor code (the default)
    NUMBER = "number"  # after a leading '#': the resident number
    PIN = "pin"  # after '# number #': the PIN
    CALL = "call"  # after '# #': the unit to call


@dataclass(frozen=True)
class KeyRejected:
    reason: str  # locked | flood | overflow | invalid_key | too_short


@dataclass(frozen=True)
class KeypadLocked:
    """Alert: the keypad locked after repeated wrong codes."""

    failures: int
    until: float


KeypadOutcome = CodeSubmitted | PinSubmitted | CallSubmitted | KeyRejected | KeypadLocked


class KeypadEntry:
    """Collects keypad keys into codes and enforces the lockout."""

    def __init__(self, config: KeypadConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self._digits: list[str] = []
        self._mode = _Mode.CODE
        self._resident_number = ""
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

    def _clear(self) -> None:
        self._digits.clear()
        self._mode = _Mode.CODE
        self._resident_number = ""

    def _max_digits(self) -> int:
        if self._mode is _Mode.NUMBER:
            return self.config.max_resident_number_length
        if self._mode is _Mode.PIN:
            return PIN_MAX_LENGTH
        if self._mode is _Mode.CALL:
            return CALL_MAX_LENGTH
        return self.config.max_code_length

    def press(self, key: str) -> KeypadOutcome | None:
        """Feed one key ('0'-'9', '*', '#'); returns what it caused, or None (key buffered)."""
        now = self.clock()
        if self.locked:
            return self._reject("locked")
        if self._flooding(now):
            self._clear()
            return self._reject("flood")
        if now - self._last_key_at > self.config.entry_timeout_s:
            self._clear()
        self._last_key_at = now
        if key == "*":
            self._clear()
            return None
        if key == "#":
            return self._enter()
        if len(key) != 1 or not key.isdigit():
            return self._reject("invalid_key")
        if len(self._digits) >= self._max_digits():
            self._clear()
            return self._reject("overflow")
        self._digits.append(key)
        return None

    def _enter(self) -> KeypadOutcome | None:
        typed = "".join(self._digits)
        self._digits.clear()
        if self._mode is _Mode.CODE and not typed:
            self._mode = _Mode.NUMBER  # a leading '#': a resident number follows
            return None
        if self._mode is _Mode.NUMBER:
            if not typed:
                self._mode = _Mode.CALL  # '# #': a unit to call follows
                return None
            self._resident_number = typed
            self._mode = _Mode.PIN
            return None
        if self._mode is _Mode.CALL:
            self._clear()
            if not typed:
                return self._reject("too_short")
            self._count("call_submitted")
            return CallSubmitted(typed)
        if self._mode is _Mode.PIN:
            number = self._resident_number
            self._clear()
            if len(typed) < PIN_MIN_LENGTH:
                return self._reject("too_short")
            self._count("pin_submitted")
            return PinSubmitted(number, typed)
        if len(typed) < self.config.min_code_length:
            return self._reject("too_short")
        self._count("submitted")
        return CodeSubmitted(typed)

    def _flooding(self, now: float) -> bool:
        self._recent_keys.append(now)
        while self._recent_keys and now - self._recent_keys[0] > 1.0:
            self._recent_keys.popleft()
        return len(self._recent_keys) > self.config.max_keys_per_second

    def record_result(self, accepted: bool) -> KeypadLocked | None:
        """Tell the keypad whether the submitted code or PIN was valid; may lock it."""
        if accepted:
            self._failures = 0
            return None
        self._failures += 1
        self._count("failed")
        if self._failures >= self.config.max_failures:
            failures = self._failures
            self._failures = 0
            self._locked_until = self.clock() + self.config.lockout_s
            self._clear()
            self._count("lockouts")
            return KeypadLocked(failures, self._locked_until)
        return None
