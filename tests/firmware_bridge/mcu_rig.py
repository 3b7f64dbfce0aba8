"""Test rig: the firmware's own code on a fake board, wired to the real host driver through a
pseudo-terminal pair (os.openpty + pyserial), with fault injection on both directions."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from firmware_bridge.backends.mcu import McuDoorIO
from firmware_bridge.backends.mcu_link import SerialPort, open_serial
from firmware_bridge.config import DoorConfig, McuConfig
from firmware_bridge.firmware import main as fw
from firmware_bridge.io import DoorEvent, LinkChanged
from firmware_bridge.protocol import frames, messages

from .fake_machine import FakeBoard, FakeTime, PtyUart

FrameFilter = Callable[[bytes], list[bytes]]


def wait_for(predicate: Callable[[], object], timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def frame_type(frame: bytes) -> int:
    return frame[3] if len(frame) >= frames.OVERHEAD else -1


class FaultySerial:
    """The host's pyserial port with a filter on what it writes (whole frames per write)."""

    def __init__(self, port: SerialPort, rig: McuRig) -> None:
        self.port = port
        self.rig = rig

    def read(self, size: int = 1) -> bytes:
        return self.port.read(size)

    def write(self, data: bytes) -> int | None:
        for chunk in self.rig.to_mcu(bytes(data)):
            self.port.write(chunk)
        return len(data)

    def close(self) -> None:
        self.port.close()


class McuRig:
    def __init__(self, tmp_path: Path, lock_type: str = "fail_secure") -> None:
        self.port_path = tmp_path / "ttyMCU"
        self.clock = FakeTime()
        self.to_mcu: FrameFilter = lambda frame: [frame]
        self.config = DoorConfig(
            backend="mcu",
            lock_type=lock_type,
            heartbeat_ms=50,
            watchdog_ms=400,
            unlock_ms=300,
            max_unlock_ms=600,
            mcu=McuConfig(
                port=str(self.port_path),
                ack_timeout_ms=80,
                max_retries=3,
                command_ttl_ms=200,
                reconnect_s=0.1,
            ),
        )
        self.lock = messages.LOCK_FAIL_SAFE if lock_type == "fail_safe" else 0
        self.master, self.slave = -1, -1
        self.uart: PtyUart | None = None
        self.plug()
        assert self.uart is not None
        self.boards: list[FakeBoard] = []
        self.firmware: fw.Firmware | None = None
        self._running = False
        self._thread: threading.Thread | None = None
        self.boot_mcu()
        self.io = McuDoorIO(self.config, opener=self._open)

    # --- wiring ----------------------------------------------------------------------------
    def _open(self, port: str, baudrate: int) -> SerialPort:
        return FaultySerial(open_serial(port, baudrate), self)

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        os.symlink(os.ttyname(self.slave), self.port_path)
        if self.uart is None:
            self.uart = PtyUart(self.master)
        else:
            self.uart.attach(self.master)

    def unplug(self) -> None:
        self.port_path.unlink()
        os.close(self.master)
        os.close(self.slave)

    def inject_to_host(self, data: bytes) -> None:
        """Bytes on the wire towards the host, as if the MCU sent them."""
        os.write(self.master, data)

    def inject_to_mcu(self, data: bytes) -> None:
        """Bytes on the wire towards the MCU, bypassing the host driver and its filter."""
        os.write(self.slave, data)

    def wait_link(self, up: bool, timeout_s: float = 3.0) -> list[DoorEvent]:
        """Read events until the link reports `up`; returns everything read."""
        seen: list[DoorEvent] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for event in self.io.read_events(0.02):
                seen.append(event)
                if isinstance(event, LinkChanged) and event.up == up:
                    return seen
        raise AssertionError(f"link never went {'up' if up else 'down'}; saw {seen}")

    # --- the MCU ---------------------------------------------------------------------------
    @property
    def board(self) -> FakeBoard:
        return self.boards[-1]

    def boot_mcu(self) -> None:
        board = FakeBoard(self.clock)
        self.boards.append(board)
        self.firmware = fw.Firmware(board, self.clock, self.uart, lock=self.lock)
        self._running = True
        self._thread = threading.Thread(target=self._run, args=(board, self.firmware), daemon=True)
        self._thread.start()

    def _run(self, board: FakeBoard, firmware: fw.Firmware) -> None:
        while self._running and firmware is self.firmware:
            with board.lock:
                firmware.poll()
            time.sleep(0.001)

    def reset_mcu(self) -> None:
        """Power-cycle the MCU: new session, unconfigured, relay low."""
        self.firmware = None
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.boot_mcu()

    def relay(self, board: FakeBoard | None = None) -> int:
        return int((board or self.board).pins[fw.PIN_RELAY].level)

    def relay_on_count(self) -> int:
        return sum(
            1 for board in self.boards for _, level in board.pins[fw.PIN_RELAY].writes if level == 1
        )

    def longest_on_ms(self) -> int:
        """Longest time the relay stayed energised on any board (ends at 'now' if still on)."""
        longest = 0
        for board in self.boards:
            on_at = None
            for at, level in [*board.pins[fw.PIN_RELAY].writes, (self.clock.ticks_ms(), 0)]:
                if level and on_at is None:
                    on_at = at
                elif not level and on_at is not None:
                    longest = max(longest, messages.ticks_diff(at, on_at))
                    on_at = None
        return longest

    def close(self) -> None:
        self.io.stop()
        self._running = False
        self.firmware = None
        if self._thread is not None:
            self._thread.join()
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
