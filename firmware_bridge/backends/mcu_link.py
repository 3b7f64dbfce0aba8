"""Host end of the serial link to the MCU: port lifecycle, frame reading, stop-and-wait requests
with bounded retransmission, and counting of every bad frame.

One reader thread parses incoming bytes; ACK/NAK frames complete the pending request, all other
frames go to the `on_frame` callback. A port that errors is closed and reported through
`on_lost`; reopening is the owner's decision (`open()` again).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import serial

from firmware_bridge.counters import Counters
from firmware_bridge.io import HardwareError
from firmware_bridge.protocol import frames, messages

log = logging.getLogger(__name__)


class SerialPort(Protocol):
    """The part of pyserial's `Serial` the link uses."""

    def read(self, size: int = 1) -> bytes: ...
    def write(self, data: bytes) -> int | None: ...
    def close(self) -> None: ...


class CommandRefused(HardwareError):
    """The MCU answered NAK; `reason` is the protocol's reason name (expired, fire_alarm...)."""

    def __init__(self, command: str, reason: str) -> None:
        super().__init__(f"MCU refused {command}: {reason}")
        self.reason = reason


class CommandFailed(HardwareError):
    """No ACK after every retransmission."""


def open_serial(port: str, baudrate: int) -> SerialPort:
    try:
        opened: SerialPort = serial.Serial(port, baudrate, timeout=0.02, write_timeout=0.5)
    except (serial.SerialException, OSError, ValueError) as error:
        raise HardwareError(f"cannot open MCU serial port {port}: {error}") from None
    return opened


FrameHandler = Callable[[int, int, bytes], None]


class McuLink:
    """Framed, acknowledged messaging over one serial port."""

    def __init__(
        self,
        port: str,
        baudrate: int,
        ack_timeout_s: float,
        max_retries: int,
        counters: Counters,
        on_frame: FrameHandler,
        on_lost: Callable[[str], None],
        opener: Callable[[str, int], SerialPort] = open_serial,
    ) -> None:
        self.port_name = port
        self._baudrate = baudrate
        self._ack_timeout_s = ack_timeout_s
        self._max_retries = max_retries
        self._counters = counters
        self._on_frame = on_frame
        self._on_lost = on_lost
        self._opener = opener
        self._port: SerialPort | None = None
        self._parser = frames.FrameParser()
        self._reported = dict.fromkeys(self._parser.errors, 0)
        self._write_lock = threading.Lock()
        self._request_lock = threading.Lock()
        self._reply_ready = threading.Condition()
        self._pending_seq = 0
        self._reply: tuple[int, bytes] | None = None
        self._seq = 0
        self._running = False
        self._reader: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        """Open the port (HardwareError names it on failure) and start the reader."""
        port = self._opener(self.port_name, self._baudrate)
        self._parser.reset()
        self._port = port
        if self._reader is None or not self._reader.is_alive():
            self._running = True
            self._reader = threading.Thread(target=self._read_loop, name="mcu-reader", daemon=True)
            self._reader.start()

    def close(self) -> None:
        self._running = False
        self._drop_port()
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=1.0)
        self._reader = None

    def send(self, msg_type: int, payload: bytes = b"", seq: int = 0) -> None:
        """Write one frame (unacknowledged unless `seq` is a request's)."""
        port = self._port
        if port is None:
            raise HardwareError(f"MCU serial port {self.port_name} is not open")
        frame = frames.encode_frame(seq, msg_type, payload)
        try:
            with self._write_lock:
                port.write(frame)
        except (serial.SerialException, OSError) as error:
            self._lost(f"write failed: {error}")
            raise HardwareError(f"MCU serial port {self.port_name} lost: {error}") from None

    def request(self, msg_type: int, payload: bytes = b"", extra_wait_s: float = 0.0) -> bytes:
        """Send reliably; returns the ACK's extra bytes. Raises CommandRefused on NAK and
        CommandFailed when every retransmission went unanswered."""
        name = messages.NAMES.get(msg_type, str(msg_type))
        with self._request_lock:
            self._seq = frames.next_seq(self._seq)
            seq = self._seq
            with self._reply_ready:
                self._pending_seq, self._reply = seq, None
            for attempt in range(1 + self._max_retries):
                if attempt:
                    self._counters.add("link.retransmit")
                self.send(msg_type, payload, seq)
                reply = self._wait_reply(self._ack_timeout_s + extra_wait_s)
                if reply is None:
                    continue
                kind, body = reply
                if kind == messages.NAK:
                    reason = messages.NAK_REASONS.get(body[1] if len(body) > 1 else 0, "unknown")
                    self._counters.add(f"link.nak.{reason}")
                    raise CommandRefused(name, reason)
                return body[1:]
            self._counters.add("link.command_failed")
            raise CommandFailed(
                f"MCU on {self.port_name} did not acknowledge {name} after "
                f"{1 + self._max_retries} attempts"
            )

    def _wait_reply(self, timeout_s: float) -> tuple[int, bytes] | None:
        deadline = time.monotonic() + timeout_s
        with self._reply_ready:
            while self._reply is None:
                left = deadline - time.monotonic()
                if left <= 0 or self._port is None:
                    return None
                self._reply_ready.wait(left)
            reply, self._reply = self._reply, None
            self._pending_seq = 0
            return reply

    def _read_loop(self) -> None:
        while self._running:
            port = self._port
            if port is None:
                time.sleep(0.02)
                continue
            try:
                data = port.read(256)
            except (serial.SerialException, OSError, TypeError) as error:
                self._lost(f"read failed: {error}")
                continue
            if data:
                self._dispatch(self._parser.feed(data))

    def _dispatch(self, parsed: list[tuple[int, int, bytes]]) -> None:
        for kind, total in self._parser.errors.items():
            if total > self._reported[kind]:
                self._counters.add(f"rejected.frame.{kind}", total - self._reported[kind])
                log.debug("bad bytes from MCU: %s", self._parser.last_error)
                self._reported[kind] = total
        for seq, msg_type, payload in parsed:
            if msg_type in (messages.ACK, messages.NAK):
                self._complete(msg_type, payload)
            else:
                self._on_frame(seq, msg_type, payload)

    def _complete(self, kind: int, payload: bytes) -> None:
        with self._reply_ready:
            if payload and self._pending_seq and payload[0] == self._pending_seq:
                self._reply = (kind, payload)
                self._reply_ready.notify_all()
            else:
                self._counters.add("rejected.frame.stale_ack")

    def _drop_port(self) -> SerialPort | None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()
        with self._reply_ready:
            self._reply_ready.notify_all()
        return port

    def _lost(self, detail: str) -> None:
        if self._drop_port() is not None:
            self._counters.add("link.port_lost")
            log.warning("MCU serial port %s lost (%s)", self.port_name, detail)
            self._on_lost(f"serial port {self.port_name} lost: {detail}")
