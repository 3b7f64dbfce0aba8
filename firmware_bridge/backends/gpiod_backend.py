"""`gpiod` backend: the door wired straight to Linux GPIO through the libgpiod v2 bindings.

Polarity is handled in exactly one place: each line is requested with the kernel's `active_low`
flag from the config, so everything above sees logical levels (relay ACTIVE = energised, input
ACTIVE = contact active, RISING edge = becomes active). The relay is requested with its output
already INACTIVE and written INACTIVE again once the request is granted. Wiegand input uses the
kernel's edge timestamps (CLOCK_MONOTONIC) fed to the edge decoder. Wiegand output from here is
best effort only: Linux scheduling cannot hold SIA timing; use the MCU backend for that.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import gpiod
from gpiod.line import Bias, Direction, Edge, Value

from firmware_bridge.clock import Clock, system_clock
from firmware_bridge.config import DoorConfig, InputLineConfig
from firmware_bridge.counters import Counters
from firmware_bridge.io import (
    DoorEvent,
    HardwareError,
    InputName,
    InputRejected,
    InputState,
    LinkChanged,
    WiegandReceived,
    input_event,
)
from firmware_bridge.lock import LockPolicy, TimedRelease
from firmware_bridge.wiegand import decode
from firmware_bridge.wiegand_edges import FrameResult, RejectedFrame, WiegandEdgeDecoder

log = logging.getLogger(__name__)
BIAS = {
    "as_is": Bias.AS_IS,
    "disabled": Bias.DISABLED,
    "pull_up": Bias.PULL_UP,
    "pull_down": Bias.PULL_DOWN,
}
WIEGAND_LINES = ("wiegand_d0", "wiegand_d1")
Requester = Callable[..., Any]


LineId = int | str


def line_id(name: str) -> LineId:
    """Config line names that are all digits are offsets on the chip."""
    return int(name) if name.isdigit() else name


def input_lines(config: DoorConfig) -> dict[str, InputLineConfig]:
    """Role -> wiring of every input line (contacts first, then Wiegand data lines)."""
    g = config.gpiod
    return {
        InputName.DOOR_CONTACT.value: g.door_contact,
        InputName.EXIT_BUTTON.value: g.exit_button,
        InputName.TAMPER.value: g.tamper,
        InputName.FIRE_ALARM.value: g.fire_alarm,
        "wiegand_d0": g.wiegand_d0,
        "wiegand_d1": g.wiegand_d1,
    }


def line_settings(config: DoorConfig) -> dict[LineId, gpiod.LineSettings]:
    """Line name -> settings for one request: the single place where polarity is applied."""
    g = config.gpiod
    settings: dict[LineId, gpiod.LineSettings] = {
        line_id(g.relay_line): gpiod.LineSettings(
            direction=Direction.OUTPUT, active_low=g.relay_active_low, output_value=Value.INACTIVE
        )
    }
    for role, wiring in input_lines(config).items():
        debounce = 0 if role in WIEGAND_LINES else config.debounce_ms  # 50 us pulses: no debounce
        settings[line_id(wiring.line)] = gpiod.LineSettings(
            direction=Direction.INPUT,
            edge_detection=Edge.BOTH,
            bias=BIAS[wiring.bias],
            active_low=wiring.inverted,
            debounce_period=timedelta(milliseconds=debounce),
        )
    if g.best_effort_wiegand_out and g.wiegand_out_d0 and g.wiegand_out_d1:
        for name in (g.wiegand_out_d0, g.wiegand_out_d1):
            settings[line_id(name)] = gpiod.LineSettings(
                direction=Direction.OUTPUT, output_value=Value.INACTIVE
            )
    return settings


def check_chip(config: DoorConfig) -> None:
    """Fail early with the chip and the lines that needed it."""
    chip = config.gpiod.chip
    if not os.path.exists(chip):
        lines = ", ".join(str(line) for line in line_settings(config))
        raise HardwareError(
            f"GPIO chip {chip} not found; it should carry relay line "
            f"{config.gpiod.relay_line} and inputs ({lines})"
        )


class GpiodDoorIO:
    """DoorIO on a GPIO chip; a background thread reads edge events."""

    def __init__(
        self,
        config: DoorConfig,
        clock: Clock = system_clock,
        requester: Requester = gpiod.request_lines,
    ) -> None:
        self._config = config
        self._clock = clock
        self._requester = requester
        self._policy = LockPolicy(config.lock_type)
        self._release = TimedRelease(config.max_unlock_ms)
        self._counters = Counters()
        self._decoder = WiegandEdgeDecoder(
            int(config.wiegand.frame_gap_ms * 1e6),
            config.wiegand.min_pulse_us * 1000,
            self._counters,
        )
        self._roles = {line_id(w.line): role for role, w in input_lines(config).items()}
        self._relay_id = line_id(config.gpiod.relay_line)
        self._request: Any = None
        self._relay_lock = threading.Lock()
        self._relay = False
        self._events: list[DoorEvent] = []
        self._wake = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        check_chip(self._config)
        chip = self._config.gpiod.chip
        settings = line_settings(self._config)
        try:
            self._request = self._requester(
                chip,
                consumer="menwei-door",
                config=settings,
                output_values={self._relay_id: Value.INACTIVE},
            )
        except (OSError, ValueError) as error:
            missing = _missing_lines(chip, list(settings))
            which = f"lines not on the chip: {missing}" if missing else "lines busy or denied"
            raise HardwareError(
                f"cannot request GPIO lines on {chip} (relay {self._relay_id}): {which}: {error}"
            ) from None
        self._write_relay(False)  # safe state again, now that we own the line
        self._running = True
        self._thread = threading.Thread(target=self._watch, name="gpiod-door", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
        if self._request is not None:
            self._write_relay(False)
            self._request.release()
            self._request = None

    def release(self, duration_ms: int) -> None:
        with self._relay_lock:
            self._release.start(duration_ms, self._clock())
            self._write_relay(self._policy.relay_level(released=True))

    def secure(self) -> None:
        with self._relay_lock:
            self._release.cancel()
            self._write_relay(self._policy.relay_level(released=False))

    def go_safe(self) -> None:
        with self._relay_lock:
            self._release.cancel()
            self._write_relay(False)

    def inputs(self) -> InputState:
        if self._request is None:
            return InputState(relay_energised=self._relay)
        levels = {
            role: self._request.get_value(line) == Value.ACTIVE
            for line, role in self._roles.items()
            if role not in WIEGAND_LINES
        }
        return InputState(
            door_open=levels[InputName.DOOR_CONTACT],
            exit_pressed=levels[InputName.EXIT_BUTTON],
            tamper=levels[InputName.TAMPER],
            fire_alarm=levels[InputName.FIRE_ALARM],
            relay_energised=self._relay,
        )

    def read_events(self, timeout_s: float) -> list[DoorEvent]:
        with self._wake:
            if not self._events and timeout_s > 0:
                self._wake.wait(timeout_s)
            events, self._events = self._events, []
        return events

    def send_wiegand(self, bits: str) -> None:
        """BEST EFFORT: bit-banged from userspace, SIA timing is not guaranteed."""
        g, w = self._config.gpiod, self._config.wiegand
        if not (g.best_effort_wiegand_out and g.wiegand_out_d0 and g.wiegand_out_d1):
            raise HardwareError(
                "Wiegand output needs the mcu backend (or gpiod "
                "best_effort_wiegand_out with output lines)"
            )
        decode(bits)
        log.warning("Wiegand out from userspace: best effort, timing not guaranteed")
        for bit in bits:
            line = line_id(g.wiegand_out_d1 if bit == "1" else g.wiegand_out_d0)
            self._request.set_value(line, Value.ACTIVE)
            _spin_us(w.out_pulse_us)
            self._request.set_value(line, Value.INACTIVE)
            _spin_us(w.out_interval_us - w.out_pulse_us)

    def counters(self) -> Mapping[str, int]:
        return self._counters.snapshot()

    # --- internals ------------------------------------------------------------------------
    def _write_relay(self, energised: bool) -> None:
        if self._request is not None:
            self._request.set_value(self._relay_id, Value.ACTIVE if energised else Value.INACTIVE)
        self._relay = energised

    def _watch(self) -> None:
        offsets = {}
        for line in self._roles:
            offsets[self._request.offsets[self._request.lines.index(line)]] = line
        while self._running:
            try:
                if self._request.wait_edge_events(timedelta(milliseconds=5)):
                    for event in self._request.read_edge_events():
                        self.on_edge(
                            offsets[event.line_offset],
                            event.event_type is event.Type.RISING_EDGE,
                            event.timestamp_ns,
                        )
            except OSError as error:  # chip gone (unbound driver, hot-unplugged expander)
                self._counters.add("link.gpio_error")
                log.error("GPIO chip %s failed: %s", self._config.gpiod.chip, error)
                self._push(
                    LinkChanged(
                        False, f"GPIO chip {self._config.gpiod.chip}: {error}", self._clock()
                    )
                )
                self.go_safe()
                return
            self.on_idle(self._clock())

    def on_edge(self, line: LineId, active: bool, timestamp_ns: int) -> None:
        """One logical edge (RISING = becomes active) with the kernel's timestamp."""
        role = self._roles[line]
        if role in WIEGAND_LINES:
            self._deliver(self._decoder.edge(WIEGAND_LINES.index(role), active, timestamp_ns))
            return
        event = input_event(InputName(role), active, timestamp_ns)
        if event is not None:
            self._push(event)

    def on_idle(self, now_ns: int) -> None:
        """Timers: end a release, complete a Wiegand frame after the inter-frame gap."""
        with self._relay_lock:
            if self._release.due(now_ns):
                self._write_relay(self._policy.relay_level(released=False))
        self._deliver(self._decoder.flush(now_ns))

    def _deliver(self, results: list[FrameResult]) -> None:
        now = self._clock()
        for result in results:
            if isinstance(result, RejectedFrame):
                self._push(InputRejected("wiegand", result.reason, result.detail, now))
            else:
                self._push(WiegandReceived(result, now))

    def _push(self, event: DoorEvent) -> None:
        with self._wake:
            self._events.append(event)
            self._wake.notify_all()


def _missing_lines(chip_path: str, lines: list[LineId]) -> list[str]:
    """Which configured lines the chip does not have (for the start-up error)."""
    missing = []
    try:
        with gpiod.Chip(chip_path) as chip:
            for line in lines:
                try:
                    chip.line_offset_from_id(line)
                except (OSError, ValueError):
                    missing.append(str(line))
    except OSError:
        return [str(line) for line in lines]
    return missing


def _spin_us(microseconds: int) -> None:
    end = time.perf_counter_ns() + microseconds * 1000
    while time.perf_counter_ns() < end:
        pass
