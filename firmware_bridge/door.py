"""Door state machine: LOCKED -> UNLOCKED -> OPEN -> CLOSED -> LOCKED, plus the door alarms.

The controller owns the decision to release the lock. Grants carry an expiry so a late one never
opens the door; an exit press releases it like a grant. Alarms: forced open (the door opens while
locked), held open (open longer than `held_open_s`), tamper, and fire release (the relay drops;
a maglock opens, a strike stays locked). Time comes from an injectable clock.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from firmware_bridge.clock import Clock, system_clock
from firmware_bridge.config import DoorConfig
from firmware_bridge.counters import Counters
from firmware_bridge.io import (
    DoorClosed,
    DoorEvent,
    DoorIO,
    DoorOpened,
    ExitPressed,
    FireAlarmChanged,
    HardwareError,
    LinkChanged,
    TamperChanged,
)
from firmware_bridge.lock import LockPolicy

log = logging.getLogger(__name__)


class DoorState(StrEnum):
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    OPEN = "open"
    CLOSED = "closed"
    FIRE_RELEASED = "fire_released"


class AlarmKind(StrEnum):
    FORCED_OPEN = "forced_open"
    HELD_OPEN = "held_open"
    TAMPER = "tamper"
    FIRE_RELEASE = "fire_release"


@dataclass(frozen=True)
class DoorTransition:
    """The state changed; `reason` says why (grant, exit, entry, closed, timeout, fire...)."""

    previous: DoorState
    state: DoorState
    reason: str
    at_ns: int


@dataclass(frozen=True)
class DoorAlarm:
    """An alarm was raised (`active=True`) or cleared."""

    kind: AlarmKind
    active: bool
    detail: str
    at_ns: int


DoorNotice = DoorTransition | DoorAlarm


class DoorController:
    """Drives one door through `DoorIO`; feed it events with `handle` and time with `tick`.
    Not thread-safe: call `grant`, `handle`, `tick` and `step` from one loop."""

    def __init__(self, io: DoorIO, config: DoorConfig, clock: Clock = system_clock) -> None:
        self._io = io
        self._config = config
        self._clock = clock
        self._policy = LockPolicy(config.lock_type)
        self.counters = Counters()
        self._state = DoorState.LOCKED
        self._alarms: set[AlarmKind] = set()
        self._unlock_until_ns = 0
        self._open_since_ns = 0
        self._door_open = False
        self._fire_active = False
        self._used_grant_ids: deque[str] = deque(maxlen=1024)

    @property
    def state(self) -> DoorState:
        return self._state

    @property
    def alarms(self) -> frozenset[AlarmKind]:
        return frozenset(self._alarms)

    def arm(self) -> None:
        """Enter normal service after `door_session` started the backend de-energised: secures
        the lock (energises a maglock; a strike stays de-energised)."""
        if not self._fire_active:
            self._secure()

    def grant(
        self, reason: str, expires_at_ns: int, grant_id: str | None = None
    ) -> list[DoorNotice]:
        """Release the door for an access decision, unless it arrives after `expires_at_ns` or
        its `grant_id` was already used (a replay)."""
        now = self._clock()
        if grant_id is not None:
            if grant_id in self._used_grant_ids:
                self.counters.add("rejected.grant.replayed")
                log.warning("grant %r replayed (id %s): ignored", reason, grant_id)
                return []
            self._used_grant_ids.append(grant_id)
        if now > expires_at_ns:
            self.counters.add("rejected.grant.expired")
            log.warning(
                "grant %r arrived %d ms late: ignored", reason, (now - expires_at_ns) // 1_000_000
            )
            return []
        return self._release(reason, now)

    def handle(self, event: DoorEvent) -> list[DoorNotice]:
        """Apply one I/O event; returns the transitions and alarms it caused."""
        now = event.at_ns
        if isinstance(event, FireAlarmChanged):
            return self._fire(event.active, now)
        if isinstance(event, TamperChanged):
            return self._alarm(AlarmKind.TAMPER, event.active, "tamper switch", now)
        if isinstance(event, ExitPressed):
            return self._release("exit", now)
        if isinstance(event, DoorOpened):
            return self._opened(now)
        if isinstance(event, DoorClosed):
            return self._closed(now)
        if isinstance(event, LinkChanged) and event.up:
            return self._relock_after_link_up(now)
        return []

    def tick(self) -> list[DoorNotice]:
        """Time-based rules: relock an unused release, raise held open."""
        now = self._clock()
        notices: list[DoorNotice] = []
        if self._state is DoorState.UNLOCKED and now >= self._unlock_until_ns:
            self._secure()
            notices += self._move(DoorState.LOCKED, "timeout", now)
        held_ns = int(self._config.held_open_s * 1e9)
        if self._state is DoorState.OPEN and now - self._open_since_ns >= held_ns:
            notices += self._alarm(
                AlarmKind.HELD_OPEN, True, f"open longer than {self._config.held_open_s:g} s", now
            )
        return notices

    def step(self, timeout_s: float) -> list[DoorEvent | DoorNotice]:
        """Read the backend's events, apply them, run the timers; returns everything seen."""
        seen: list[DoorEvent | DoorNotice] = []
        for event in self._io.read_events(timeout_s):
            seen.append(event)
            seen += self.handle(event)
        seen += self.tick()
        return seen

    # --- rules -----------------------------------------------------------------------------
    def _release(self, reason: str, now: int) -> list[DoorNotice]:
        if self._fire_active:
            self.counters.add("rejected.grant.fire_alarm")
            return []
        try:
            self._io.release(self._config.unlock_ms)
        except HardwareError as error:
            self.counters.add("rejected.grant.hardware")
            log.error("release for %r failed, door stays locked: %s", reason, error)
            return []
        self._unlock_until_ns = now + self._config.unlock_ms * 1_000_000
        if self._state is DoorState.LOCKED:
            return self._move(DoorState.UNLOCKED, reason, now)
        return []

    def _opened(self, now: int) -> list[DoorNotice]:
        self._door_open = True
        self._open_since_ns = now
        if self._state is DoorState.FIRE_RELEASED:
            return []
        notices: list[DoorNotice] = []
        if self._state is DoorState.LOCKED:
            self.counters.add("alarm.forced_open")
            notices += self._alarm(AlarmKind.FORCED_OPEN, True, "opened without grant or exit", now)
            notices += self._move(DoorState.OPEN, "forced", now)
        else:
            notices += self._move(DoorState.OPEN, "entry", now)
        return notices

    def _closed(self, now: int) -> list[DoorNotice]:
        self._door_open = False
        if self._state is not DoorState.OPEN:
            return []
        self._secure()
        notices = self._move(DoorState.CLOSED, "closed", now)
        notices += self._move(DoorState.LOCKED, "relocked", now)
        for kind in (AlarmKind.FORCED_OPEN, AlarmKind.HELD_OPEN):
            notices += self._alarm(kind, False, "door closed", now)
        return notices

    def _secure(self) -> None:
        try:
            self._io.secure()
        except HardwareError as error:  # the MCU's own timer still ends the release
            self.counters.add("error.secure")
            log.error("could not secure the lock: %s", error)

    def _relock_after_link_up(self, now: int) -> list[DoorNotice]:
        """A (re)connected MCU starts de-energised: put a maglock back to holding."""
        if self._state not in (DoorState.LOCKED, DoorState.UNLOCKED) or self._fire_active:
            return []
        self._secure()
        return self._move(DoorState.LOCKED, "link up", now)

    def _fire(self, active: bool, now: int) -> list[DoorNotice]:
        self._fire_active = active
        if active:
            try:
                self._io.go_safe()
            except HardwareError as error:  # the MCU drops the relay on fire by itself
                log.error("could not drop the relay on fire alarm: %s", error)
            detail = (
                "maglock released"
                if self._policy.fire_alarm_releases
                else "strike stays locked, mechanical egress"
            )
            notices = self._alarm(AlarmKind.FIRE_RELEASE, True, detail, now)
            if self._policy.fire_alarm_releases:
                notices += self._move(DoorState.FIRE_RELEASED, "fire", now)
            return notices
        notices = self._alarm(AlarmKind.FIRE_RELEASE, False, "fire alarm cleared", now)
        if self._state is DoorState.FIRE_RELEASED:
            self._secure()
            after = DoorState.OPEN if self._door_open else DoorState.LOCKED
            self._open_since_ns = now
            notices += self._move(after, "fire cleared", now)
        return notices

    def _move(self, state: DoorState, reason: str, now: int) -> list[DoorNotice]:
        if state is self._state:
            return []
        previous, self._state = self._state, state
        log.info("door %s -> %s (%s)", previous, state, reason)
        return [DoorTransition(previous, state, reason, now)]

    def _alarm(self, kind: AlarmKind, active: bool, detail: str, now: int) -> list[DoorNotice]:
        if (kind in self._alarms) == active:
            return []
        if active:
            self._alarms.add(kind)
            log.warning("door alarm %s: %s", kind, detail)
        else:
            self._alarms.discard(kind)
        return [DoorAlarm(kind, active, detail, now)]


def kinds(notices: Iterable[object]) -> list[str]:
    """Compact description of notices, for logs and test assertions."""
    out: list[str] = []
    for notice in notices:
        if isinstance(notice, DoorTransition):
            out.append(f"{notice.previous}->{notice.state}")
        elif isinstance(notice, DoorAlarm):
            out.append(f"{'+' if notice.active else '-'}{notice.kind}")
    return out
