"""Small fakes of MicroPython's `machine` and `time` modules, so the RP2040 firmware's own code
runs under CPython. Pins record every write with its tick time; driving an input low fires its
falling-edge IRQ like the real chip. The UART either runs over a pty master (real serial bytes to
the host driver) or over in-memory buffers."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from firmware_bridge.protocol import messages

PERIOD = messages.TICKS_PERIOD


class FakeTime:
    """`time.ticks_*` and sleeps; manual (deterministic) or following the real monotonic clock.
    Starts 3 s before the tick counter wraps so wrap-around is always exercised."""

    def __init__(self, manual: bool = False, start_ms: int = PERIOD - 3000) -> None:
        self.manual = manual
        self._manual_us = start_ms * 1000
        self._offset_us = start_ms * 1000 - time.monotonic_ns() // 1000

    def _now_us(self) -> int:
        if self.manual:
            return self._manual_us
        return time.monotonic_ns() // 1000 + self._offset_us

    def ticks_ms(self) -> int:
        return (self._now_us() // 1000) % PERIOD

    def ticks_us(self) -> int:
        return self._now_us() % PERIOD

    @staticmethod
    def ticks_add(ticks: int, delta: int) -> int:
        return messages.ticks_add(ticks, delta)

    @staticmethod
    def ticks_diff(end: int, start: int) -> int:
        return messages.ticks_diff(end, start)

    def sleep_us(self, us: int) -> None:
        if self.manual:
            self._manual_us += us
        else:
            time.sleep(us / 1e6)

    def sleep_ms(self, ms: int) -> None:
        self.sleep_us(ms * 1000)

    def advance_ms(self, ms: float) -> None:
        assert self.manual
        self._manual_us += int(ms * 1000)


class FakeBoard:
    """One RP2040: its pins, UART factory, watchdog and IRQ lock, exposed as a `machine` module."""

    def __init__(self, clock: FakeTime) -> None:
        self.clock = clock
        self.pins: dict[int, Any] = {}
        self.lock = threading.RLock()  # held while the firmware polls and while a test drives
        board = self

        class Pin:
            IN = 0
            OUT = 1
            PULL_UP = 1
            IRQ_FALLING = 4
            IRQ_RISING = 8

            def __init__(
                self, pin_id: int, mode: int = -1, pull: int | None = None, value: int | None = None
            ) -> None:
                self.id = pin_id
                self.mode = mode
                self.level = value if value is not None else (1 if pull == Pin.PULL_UP else 0)
                self.writes: list[tuple[int, int]] = []
                self.handler: Callable[[Any], None] | None = None
                if mode == Pin.OUT and value is not None:
                    self.writes.append((board.clock.ticks_ms(), value))
                board.pins[pin_id] = self

            def value(self, level: int | None = None) -> int | None:
                if level is None:
                    return self.level
                self.level = int(level)
                self.writes.append((board.clock.ticks_ms(), self.level))
                return None

            def irq(self, trigger: int, handler: Callable[[Any], None]) -> None:
                self.handler = handler

            def drive(self, level: int) -> None:
                """Test side: the outside world sets this input; falling edges fire the IRQ."""
                with board.lock:
                    falling = self.level == 1 and level == 0
                    self.level = level
                    if falling and self.handler is not None:
                        self.handler(self)

        class WDT:
            def __init__(self, timeout: int) -> None:
                self.timeout = timeout
                self.feeds = 0

            def feed(self) -> None:
                self.feeds += 1

        self.Pin = Pin
        self.WDT = WDT

    def UART(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("tests pass the UART in explicitly")

    @staticmethod
    def disable_irq() -> int:
        return 0

    @staticmethod
    def enable_irq(state: int) -> None:
        return None

    def relay_writes(self, relay_pin: int) -> list[tuple[int, int]]:
        return list(self.pins[relay_pin].writes)


class PtyUart:
    """machine.UART on the master side of a pty: the host's pyserial opens the slave."""

    def __init__(self, master_fd: int) -> None:
        self.fd = -1
        self.attach(master_fd)
        self.outgoing: Callable[[bytes], list[bytes]] = lambda frame: [frame]

    def attach(self, master_fd: int) -> None:
        """Plug the cable into a (new) pty."""
        flags = fcntl.fcntl(master_fd, fcntl.F_GETFL)
        fcntl.fcntl(master_fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self.fd = master_fd

    def read(self) -> bytes | None:
        try:
            return os.read(self.fd, 512) or None
        except (BlockingIOError, OSError):
            return None

    def write(self, data: bytes) -> int:
        for chunk in self.outgoing(bytes(data)):
            with contextlib.suppress(OSError):  # cable unplugged: bytes are lost on the wire
                os.write(self.fd, chunk)
        return len(data)


class MemoryUart:
    """machine.UART over in-memory buffers, for deterministic single-thread firmware tests."""

    def __init__(self) -> None:
        self.to_mcu = bytearray()
        self.from_mcu = bytearray()

    def read(self) -> bytes | None:
        data, self.to_mcu = bytes(self.to_mcu), bytearray()
        return data or None

    def write(self, data: bytes) -> int:
        self.from_mcu.extend(data)
        return len(data)
