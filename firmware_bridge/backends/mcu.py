"""`mcu` backend: the door driven by the RP2040 firmware over a serial port.

The MCU enforces the relay's maximum, local exit, fire release and the host watchdog; this side
does the version handshake, heartbeats, duplicate suppression of MCU events, expiry stamps on
opening commands (deadline on the MCU's clock, estimated conservatively from its heartbeats, plus
the MCU's per-boot session id), and reconnection when the port or the MCU goes away.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping

from firmware_bridge.clock import Clock, system_clock
from firmware_bridge.config import DoorConfig
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
from firmware_bridge.protocol import frames, messages
from firmware_bridge.wiegand import WiegandError, decode

from .mcu_link import McuLink, SerialPort, open_serial

log = logging.getLogger(__name__)
INPUT_NAMES = (
    InputName.DOOR_CONTACT,
    InputName.EXIT_BUTTON,
    InputName.TAMPER,
    InputName.FIRE_ALARM,
)


class McuDoorIO:
    """DoorIO over the serial protocol; see firmware_bridge/firmware/README.md."""

    def __init__(
        self,
        config: DoorConfig,
        clock: Clock = system_clock,
        opener: Callable[[str, int], SerialPort] = open_serial,
    ) -> None:
        self._config = config
        self._clock = clock
        self._counters = Counters()
        mcu = config.mcu
        self._link = McuLink(
            mcu.port,
            mcu.baudrate,
            mcu.ack_timeout_ms / 1000,
            mcu.max_retries,
            self._counters,
            self._on_frame,
            self._on_lost,
            opener,
        )
        self._events: queue.Queue[DoorEvent] = queue.Queue()
        self._dedup = frames.Deduplicator()
        self._state_lock = threading.Lock()
        self._ready = False
        self._session = 0
        self._mcu_ticks = 0
        self._mcu_seen_s = 0.0
        self._mcu_state = 0
        self._hello_ticks = 0
        self._running = False
        self._supervisor: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Open the port, handshake, drop the relay; HardwareError names the port on failure."""
        self._link.open()
        try:
            self._handshake()
            self._link.request(messages.SAFE)
        except HardwareError:
            self._link.close()
            raise
        self._running = True
        self._supervisor = threading.Thread(
            target=self._supervise, name="mcu-supervisor", daemon=True
        )
        self._supervisor.start()

    def stop(self) -> None:
        self._running = False
        if self._supervisor is not None:
            self._supervisor.join(timeout=2.0)
            self._supervisor = None
        if self._link.connected and self._ready:
            try:
                self._link.request(messages.SAFE)
            except HardwareError as error:
                log.warning("could not drop the relay at stop (%s); MCU watchdog will", error)
        self._link.close()

    # --- DoorIO commands ------------------------------------------------------------------
    def release(self, duration_ms: int) -> None:
        session, deadline = self._expiry()
        payload = messages.pack_release(session, deadline, min(duration_ms, 0xFFFF))
        self._link.request(messages.RELEASE, payload)

    def secure(self) -> None:
        self._require_ready()
        self._link.request(messages.SECURE)

    def go_safe(self) -> None:
        """Drop the relay; with the MCU unreachable its own watchdog does it within
        watchdog_ms, so this logs instead of raising."""
        if not self._ready:
            log.warning(
                "MCU unreachable: its watchdog drops the relay within %d ms",
                self._config.watchdog_ms,
            )
            return
        self._link.request(messages.SAFE)

    def send_wiegand(self, bits: str) -> None:
        decode(bits)
        self._require_ready()
        out = self._config.wiegand
        duration_s = len(bits) * out.out_interval_us / 1e6
        self._link.request(messages.WIEGAND_OUT, messages.pack_bits(bits), duration_s)

    def inputs(self) -> InputState:
        with self._state_lock:
            state = self._mcu_state
        return InputState(
            door_open=bool(state & (1 << messages.IN_DOOR)),
            exit_pressed=bool(state & (1 << messages.IN_EXIT)),
            tamper=bool(state & (1 << messages.IN_TAMPER)),
            fire_alarm=bool(state & (1 << messages.IN_FIRE)),
            relay_energised=bool(state & messages.STATE_RELAY),
        )

    def read_events(self, timeout_s: float) -> list[DoorEvent]:
        events: list[DoorEvent] = []
        try:
            events.append(
                self._events.get(timeout=timeout_s) if timeout_s > 0 else self._events.get_nowait()
            )
        except queue.Empty:
            return events
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    def counters(self) -> Mapping[str, int]:
        return self._counters.snapshot()

    @property
    def ready(self) -> bool:
        return self._ready

    # --- link management ------------------------------------------------------------------
    def _require_ready(self) -> None:
        if not self._ready:
            raise HardwareError(f"MCU on {self._link.port_name} is not connected")

    def _expiry(self) -> tuple[int, int]:
        """(session, deadline ticks): the MCU clock estimate lags its true clock by the
        heartbeat's transit time, so the deadline is never later than intended."""
        self._require_ready()
        with self._state_lock:
            elapsed_ms = int((time.monotonic() - self._mcu_seen_s) * 1000)
            estimate = messages.ticks_add(self._mcu_ticks, elapsed_ms)
            session = self._session
        return session, messages.ticks_add(estimate, self._config.mcu.command_ttl_ms)

    def _handshake(self) -> None:
        c, w = self._config, self._config.wiegand
        lock = messages.LOCK_FAIL_SAFE if c.lock_type == "fail_safe" else messages.LOCK_FAIL_SECURE
        hello = messages.pack_hello(
            lock,
            c.unlock_ms,
            c.max_unlock_ms,
            c.watchdog_ms,
            w.out_pulse_us,
            w.out_interval_us,
            int(w.frame_gap_ms),
            c.debounce_ms,
        )
        extra = self._link.request(messages.HELLO, hello)
        try:
            version, _, session, ticks = messages.unpack_hello_reply(extra)
        except ValueError as error:
            raise HardwareError(
                f"MCU on {self._link.port_name}: bad HELLO reply: {error}"
            ) from None
        with self._state_lock:
            self._session, self._mcu_ticks, self._mcu_seen_s = session, ticks, time.monotonic()
            self._hello_ticks = ticks
            self._ready = True
        self._dedup.reset()
        log.info("MCU on %s: protocol %d, session %04x", self._link.port_name, version, session)
        self._events.put(LinkChanged(True, f"MCU session {session:04x}", self._clock()))

    def _link_down(self, counter: str, detail: str) -> None:
        with self._state_lock:
            was_ready, self._ready = self._ready, False
        if was_ready:
            self._counters.add(counter)
            log.warning("MCU link down: %s", detail)
            self._events.put(LinkChanged(False, detail, self._clock()))

    def _on_lost(self, detail: str) -> None:
        self._link_down("link.down.port", detail)

    def _supervise(self) -> None:
        period_s = self._config.heartbeat_ms / 1000
        silence_s = self._config.watchdog_ms / 1000
        while self._running:
            try:
                if not self._link.connected:
                    self._link.open()
                if not self._ready:
                    self._handshake()
                self._link.send(messages.HEARTBEAT)
                if time.monotonic() - self._mcu_seen_s > silence_s:
                    self._link_down("link.down.silent", "MCU heartbeats stopped")
            except HardwareError as error:
                self._counters.add("link.reconnect_attempt")
                log.debug("MCU link: %s", error)
                time.sleep(self._config.mcu.reconnect_s)
                continue
            time.sleep(period_s)

    # --- frames from the MCU --------------------------------------------------------------
    def _on_frame(self, seq: int, msg_type: int, payload: bytes) -> None:
        now = self._clock()
        if msg_type == messages.HEARTBEAT:
            self._heartbeat(payload, now)
            return
        if msg_type not in messages.MCU_EVENTS or seq == 0:
            self._reject("unknown_type", f"message type {msg_type:#04x} seq {seq}", now)
            if seq:
                self._send_quietly(messages.NAK, messages.pack_nak(seq, messages.NAK_UNKNOWN_TYPE))
            return
        if self._dedup.is_duplicate(seq):
            self._counters.add("link.duplicate")
            self._send_quietly(messages.ACK, self._dedup.last_reply)
            return
        try:
            self._event(msg_type, payload, now)
            reply = messages.pack_ack(seq)
        except ValueError as error:
            self._reject("bad_payload", f"{messages.NAMES[msg_type]}: {error}", now)
            reply = messages.pack_nak(seq, messages.NAK_BAD_PAYLOAD)
        self._dedup.accept(seq, reply)
        self._send_quietly(messages.ACK if len(reply) == 1 else messages.NAK, reply)

    def _event(self, msg_type: int, payload: bytes, now: int) -> None:
        if msg_type == messages.INPUT:
            index, active, _ticks = messages.unpack_input(payload)
            event = input_event(INPUT_NAMES[index], bool(active), now)
            if event is not None:
                self._events.put(event)
            return
        bits, flags, _ticks = messages.unpack_wiegand_in(payload)
        if flags != messages.WG_CLEAN:
            self._counters.add(f"rejected.wiegand.{messages.WG_FLAGS[flags]}")
            self._events.put(
                InputRejected(
                    "wiegand", messages.WG_FLAGS[flags], f"MCU spoiled a {len(bits)}-bit frame", now
                )
            )
            return
        try:
            self._events.put(WiegandReceived(decode(bits), now))
        except WiegandError as error:
            self._counters.add(f"rejected.wiegand.{error.reason}")
            self._events.put(InputRejected("wiegand", error.reason, error.detail, now))

    def _heartbeat(self, payload: bytes, now: int) -> None:
        try:
            ticks, session, state, _errors = messages.unpack_mcu_heartbeat(payload)
        except ValueError as error:
            self._reject("bad_payload", f"HEARTBEAT: {error}", now)
            return
        with self._state_lock:
            known, hello_ticks = self._session, self._hello_ticks
            self._mcu_ticks, self._mcu_seen_s, self._mcu_state = ticks, time.monotonic(), state
        if session != known:
            self._link_down("link.down.mcu_reset", f"MCU rebooted (session {session:04x})")
        elif state & messages.STATE_HOST_LOST and messages.ticks_diff(ticks, hello_ticks) > 0:
            self._link_down("link.down.mcu_watchdog", "MCU watchdog tripped: host was silent")

    def _reject(self, reason: str, detail: str, now: int) -> None:
        self._counters.add(f"rejected.frame.{reason}")
        self._events.put(InputRejected("mcu", reason, detail, now))

    def _send_quietly(self, msg_type: int, payload: bytes) -> None:
        with contextlib.suppress(HardwareError):  # the link reports the loss itself
            self._link.send(msg_type, payload)
