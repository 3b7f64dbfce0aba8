"""Visitor calls as a pure state machine: place, answer once, or miss when the ring window ends.

A visitor keys a unit number and the call key; `VisitorCalls.place` decides whether a call rings
(the unit is callable, not in its quiet hours, and neither the door nor the unit is over its rate
limit) and gives it a random call id. The resident's answer arrives through the station:
`answer` accepts or declines a ringing call exactly once, and only for the door it rang at and
within its ring window; anything else (a second answer, a late one, another call's id or door)
is refused with a reason and changes nothing. `expire` ends the calls whose window has passed as
missed. When one door calls many different units in a short time (someone working down the
directory), `place` reports a `UnitScan` alert once per scan window.

No I/O and no threads: the clock (monotonic seconds) and the local minute of the day (site time,
for quiet hours) are injected, so every rule is tested without waiting. The caller serialises
access (one lock) and records every outcome as an access event.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from gateway.config.access import QUIET_SPAN, VisitorCallConfig

Clock = Callable[[], float]
LocalMinute = Callable[[], int]  # minute of the day, 0..1439, in the site's time zone
MAX_ENDED = 256  # recently ended calls remembered, so a late answer is told why it was refused


class CallState(StrEnum):
    RINGING = "ringing"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    MISSED = "missed"


@dataclass(frozen=True)
class Call:
    call_id: str
    door: str
    unit: str  # the unit as typed at the door
    placed_at: float
    ring_until: float
    state: CallState = CallState.RINGING


@dataclass(frozen=True)
class CallRefused:
    """The call key was pressed but no call rings; `reason` is a stable code for the event."""

    reason: str  # call_door_rate_limited | call_unit_rate_limited | call_quiet_hours


@dataclass(frozen=True)
class UnitScan:
    """Alert: one door called `units` different units within `window_s`."""

    door: str
    units: int
    window_s: float


@dataclass(frozen=True)
class Placed:
    call: Call
    alert: UnitScan | None = None


@dataclass(frozen=True)
class Answered:
    call: Call  # its state is ACCEPTED or DECLINED


@dataclass(frozen=True)
class AnswerRefused:
    reason: str  # unknown_call | wrong_door | call_ended | call_window_passed
    call: Call | None = None


def quiet_minutes(span: str) -> tuple[int, int]:
    """'22:00-07:00' -> (1320, 420): start and end minute of the day (the span may wrap)."""
    match = QUIET_SPAN.fullmatch(span)
    if match is None:
        raise ValueError(f"not HH:MM-HH:MM: {span!r}")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    return h1 * 60 + m1, h2 * 60 + m2


def in_span(minute: int, span: tuple[int, int]) -> bool:
    start, end = span
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end  # wraps midnight


def new_call_id() -> str:
    return secrets.token_hex(16)


class VisitorCalls:
    """The calls of one gateway's door(s): rate limits, quiet hours, answers, the ring window."""

    def __init__(
        self,
        config: VisitorCallConfig,
        clock: Clock,
        local_minute: LocalMinute,
        new_id: Callable[[], str] = new_call_id,
    ) -> None:
        self.config = config
        self.clock = clock
        self.local_minute = local_minute
        self.new_id = new_id
        self.quiet: Mapping[str, tuple[int, int]] = {
            unit: quiet_minutes(span) for unit, span in config.quiet_hours.items()
        }
        self._ringing: dict[str, Call] = {}
        self._ended: dict[str, Call] = {}
        self._door_calls: dict[str, deque[float]] = {}
        self._unit_calls: dict[str, deque[float]] = {}
        self._door_units: dict[str, deque[tuple[float, str]]] = {}
        self._scan_alerted_until: dict[str, float] = {}
        self.counters: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    @property
    def ringing(self) -> list[Call]:
        return list(self._ringing.values())

    def place(self, door: str, unit: str) -> Placed | CallRefused:
        """A visitor at `door` called `unit` (already known to exist and be callable)."""
        now = self.clock()
        config = self.config
        door_calls = _window(self._door_calls, door, now, config.door_window_s)
        if len(door_calls) >= config.door_max_calls:
            return self._refuse("call_door_rate_limited")
        unit_calls = _window(self._unit_calls, unit, now, config.unit_window_s)
        if len(unit_calls) >= config.unit_max_calls:
            return self._refuse("call_unit_rate_limited")
        span = self.quiet.get(unit)
        if span is not None and in_span(self.local_minute(), span):
            return self._refuse("call_quiet_hours")
        door_calls.append(now)
        unit_calls.append(now)
        call = Call(self.new_id(), door, unit, now, now + config.ring_s)
        self._ringing[call.call_id] = call
        self._count("placed")
        return Placed(call, self._scan(door, unit, now))

    def _refuse(self, reason: str) -> CallRefused:
        self._count(reason)
        return CallRefused(reason)

    def _scan(self, door: str, unit: str, now: float) -> UnitScan | None:
        window = self.config.scan_window_s
        recent = self._door_units.setdefault(door, deque())
        recent.append((now, unit))
        while recent and now - recent[0][0] >= window:
            recent.popleft()
        units = len({called for _, called in recent})
        if units < self.config.scan_units or now < self._scan_alerted_until.get(door, -1e18):
            return None
        self._scan_alerted_until[door] = now + window
        self._count("unit_scan")
        return UnitScan(door, units, window)

    def answer(self, call_id: str, door: str, accept: bool) -> Answered | AnswerRefused:
        """The resident's one answer to a ringing call at `door`."""
        now = self.clock()
        call = self._ringing.get(call_id)
        if call is None:
            ended = self._ended.get(call_id)
            reason = "unknown_call" if ended is None else "call_ended"
            if ended is not None and ended.door != door:
                reason = "wrong_door"
            self._count(f"answer.{reason}")
            return AnswerRefused(reason, ended)
        if call.door != door:
            self._count("answer.wrong_door")
            return AnswerRefused("wrong_door", call)
        if now >= call.ring_until:
            self._end(call, CallState.MISSED)
            self._count("answer.call_window_passed")
            return AnswerRefused("call_window_passed", self._ended[call_id])
        state = CallState.ACCEPTED if accept else CallState.DECLINED
        self._count(f"answer.{state}")
        return Answered(self._end(call, state))

    def expire(self) -> list[Call]:
        """End the ringing calls whose window has passed; returns them (state MISSED)."""
        now = self.clock()
        due = [call for call in self._ringing.values() if now >= call.ring_until]
        missed = [self._end(call, CallState.MISSED) for call in due]
        for _ in missed:
            self._count("missed")
        return missed

    def next_deadline(self) -> float | None:
        """When the next ringing call's window ends (monotonic seconds), None when none rings."""
        return min((call.ring_until for call in self._ringing.values()), default=None)

    def _end(self, call: Call, state: CallState) -> Call:
        ended = Call(call.call_id, call.door, call.unit, call.placed_at, call.ring_until, state)
        del self._ringing[call.call_id]
        self._ended[call.call_id] = ended
        while len(self._ended) > MAX_ENDED:
            del self._ended[next(iter(self._ended))]
        return ended


def _window(table: dict[str, deque[float]], key: str, now: float, window_s: float) -> deque[float]:
    times = table.setdefault(key, deque())
    while times and now - times[0] >= window_s:
        times.popleft()
    return times
