"""In-process door simulation: scriptable inputs and a recorded relay, for the demo and tests.

It behaves like hardware behind the same interface: inputs produce edge events, card frames go
through the real Wiegand edge decoder, releases are capped by the lock's hard maximum, and every
relay change is recorded with its timestamp so tests can assert on-times.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from firmware_bridge.clock import Clock, system_clock
from firmware_bridge.config import DoorConfig
from firmware_bridge.counters import Counters
from firmware_bridge.io import (
    DoorEvent,
    InputName,
    InputRejected,
    InputState,
    WiegandReceived,
    input_event,
)
from firmware_bridge.lock import LockPolicy, TimedRelease
from firmware_bridge.wiegand import decode
from firmware_bridge.wiegand_edges import (
    FrameResult,
    RejectedFrame,
    WiegandEdgeDecoder,
    pulses_for,
)


class SimDoorIO:
    """Simulated door hardware; drive it with `set_input`, `present_wiegand` and a clock."""

    def __init__(self, config: DoorConfig, clock: Clock = system_clock) -> None:
        self._config = config
        self._clock = clock
        self._policy = LockPolicy(config.lock_type)
        self._release = TimedRelease(config.max_unlock_ms)
        self._counters = Counters()
        self._decoder = WiegandEdgeDecoder(
            int(config.wiegand.frame_gap_ms * 1_000_000),
            config.wiegand.min_pulse_us * 1000,
            self._counters,
        )
        self._levels = dict.fromkeys(InputName, False)
        self._relay = False
        self._events: list[DoorEvent] = []
        self._wake = threading.Condition()
        self.relay_history: list[tuple[int, bool]] = []
        self.wiegand_sent: list[str] = []
        self.started = False

    # --- DoorIO ----------------------------------------------------------------------------
    def start(self) -> None:
        self._set_relay(False)
        self.started = True

    def stop(self) -> None:
        self._release.cancel()
        self._set_relay(False)
        self.started = False

    def release(self, duration_ms: int) -> None:
        self._release.start(duration_ms, self._clock())
        self._set_relay(self._policy.relay_level(released=True))

    def secure(self) -> None:
        self._release.cancel()
        self._set_relay(self._policy.relay_level(released=False))

    def go_safe(self) -> None:
        self._release.cancel()
        self._set_relay(False)

    def inputs(self) -> InputState:
        self._expire()
        return InputState(
            door_open=self._levels[InputName.DOOR_CONTACT],
            exit_pressed=self._levels[InputName.EXIT_BUTTON],
            tamper=self._levels[InputName.TAMPER],
            fire_alarm=self._levels[InputName.FIRE_ALARM],
            relay_energised=self._relay,
        )

    def read_events(self, timeout_s: float) -> list[DoorEvent]:
        with self._wake:
            self._expire()
            if not self._events and timeout_s > 0:
                self._wake.wait(timeout_s)
                self._expire()
            events, self._events = self._events, []
        return events

    def send_wiegand(self, bits: str) -> None:
        decode(bits)  # refuse to emit what no reader could have sent
        self.wiegand_sent.append(bits)

    def counters(self) -> Mapping[str, int]:
        return self._counters.snapshot()

    # --- scripting -------------------------------------------------------------------------
    @property
    def relay_energised(self) -> bool:
        return self._relay

    def set_input(self, name: InputName, active: bool) -> None:
        """Change an input level; an edge produces its event like real hardware."""
        if self._levels[name] == active:
            return
        self._levels[name] = active
        event = input_event(name, active, self._clock())
        if event is not None:
            self._push(event)

    def present_wiegand(self, bits: str, pulse_us: int = 50, interval_us: int = 1000) -> None:
        """A reader sends `bits`: edges go through the real decoder (invalid bits are noise)."""
        start = self._clock()
        for line, asserted, at in pulses_for(bits, pulse_us * 1000, interval_us * 1000, start):
            self.inject_edge(line, asserted, at)

    def inject_edge(self, line: int, asserted: bool, at_ns: int) -> None:
        """Raw Wiegand edge, for noise scripts (overlaps, glitches)."""
        self._deliver(self._decoder.edge(line, asserted, at_ns), at_ns)

    # --- internals -------------------------------------------------------------------------
    def _expire(self) -> None:
        now = self._clock()
        if self._release.due(now):
            self._set_relay(self._policy.relay_level(released=False))
        self._deliver(self._decoder.flush(now), now)

    def _deliver(self, results: list[FrameResult], at_ns: int) -> None:
        for result in results:
            if isinstance(result, RejectedFrame):
                self._push(InputRejected("wiegand", result.reason, result.detail, at_ns))
            else:
                self._push(WiegandReceived(result, at_ns))

    def _push(self, event: DoorEvent) -> None:
        with self._wake:
            self._events.append(event)
            self._wake.notify_all()

    def _set_relay(self, energised: bool) -> None:
        if energised != self._relay or not self.relay_history:
            self.relay_history.append((self._clock(), energised))
        self._relay = energised
