"""The door I/O interface every backend implements, and the timestamped events it emits.

Lock vocabulary: `release(ms)` frees the door for a bounded time, `secure()` locks it now,
`go_safe()` de-energises the relay (the lock's unpowered state: a fail-secure strike locks, a
fail-safe maglock releases). Which relay level means what is decided in `lock.py` only.
Timestamps are monotonic nanoseconds from the backend's clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from firmware_bridge.wiegand import WiegandRead


class InputName(StrEnum):
    """The contact inputs of a door."""

    DOOR_CONTACT = "door_contact"
    EXIT_BUTTON = "exit_button"
    TAMPER = "tamper"
    FIRE_ALARM = "fire_alarm"


@dataclass(frozen=True)
class InputState:
    """Current logical levels (True = active) and the relay coil state."""

    door_open: bool = False
    exit_pressed: bool = False
    tamper: bool = False
    fire_alarm: bool = False
    relay_energised: bool = False


@dataclass(frozen=True)
class DoorOpened:
    at_ns: int


@dataclass(frozen=True)
class DoorClosed:
    at_ns: int


@dataclass(frozen=True)
class ExitPressed:
    at_ns: int


@dataclass(frozen=True)
class TamperChanged:
    active: bool
    at_ns: int


@dataclass(frozen=True)
class FireAlarmChanged:
    active: bool
    at_ns: int


@dataclass(frozen=True)
class WiegandReceived:
    """A valid frame from the reader: a card, a keypad key or a raw frame."""

    read: WiegandRead
    at_ns: int


@dataclass(frozen=True)
class InputRejected:
    """Bad input that was dropped and counted (noise, bad frame, unknown message...)."""

    source: str
    reason: str
    detail: str
    at_ns: int


@dataclass(frozen=True)
class LinkChanged:
    """The backend's connection to its hardware went up or down (serial port, MCU reset)."""

    up: bool
    detail: str
    at_ns: int


DoorEvent = (
    DoorOpened
    | DoorClosed
    | ExitPressed
    | TamperChanged
    | FireAlarmChanged
    | WiegandReceived
    | InputRejected
    | LinkChanged
)


def input_event(name: InputName, active: bool, at_ns: int) -> DoorEvent | None:
    """The event for an input edge; None for edges nobody acts on (exit button release)."""
    if name is InputName.DOOR_CONTACT:
        return DoorOpened(at_ns) if active else DoorClosed(at_ns)
    if name is InputName.EXIT_BUTTON:
        return ExitPressed(at_ns) if active else None
    if name is InputName.TAMPER:
        return TamperChanged(active, at_ns)
    return FireAlarmChanged(active, at_ns)


class HardwareError(RuntimeError):
    """The backend cannot reach its hardware; the message names the device and line or port."""


class DoorIO(Protocol):
    """Door hardware as the access service sees it; implemented by sim, gpiod and mcu."""

    def start(self) -> None:
        """Open the hardware with the relay de-energised; raises HardwareError with details."""

    def stop(self) -> None:
        """De-energise the relay and release the hardware; safe to call twice."""

    def release(self, duration_ms: int) -> None:
        """Free the door for `duration_ms`, capped at the configured hard maximum."""

    def secure(self) -> None:
        """Lock the door now (ends a release)."""

    def go_safe(self) -> None:
        """De-energise the relay: the lock's unpowered state."""

    def inputs(self) -> InputState:
        """Current input levels and relay state."""

    def read_events(self, timeout_s: float) -> list[DoorEvent]:
        """Events since the last call, waiting up to `timeout_s` for the first one."""

    def send_wiegand(self, bits: str) -> None:
        """Emit a Wiegand frame to a downstream controller (timing guaranteed only on MCU)."""

    def counters(self) -> Mapping[str, int]:
        """Error and activity counters, e.g. `rejected.wiegand.parity`."""
