"""The RP2040 firmware's own logic under CPython, single-threaded with a manual tick clock:
relay maximum, local exit, fire, watchdog, expiry, duplicates, bad frames, Wiegand in/out."""

from __future__ import annotations

import pytest

from firmware_bridge.firmware import main as fw
from firmware_bridge.protocol import frames, messages
from firmware_bridge.wiegand import encode_card

from .fake_machine import FakeBoard, FakeTime, MemoryUart

HELLO = messages.pack_hello(messages.LOCK_FAIL_SECURE, 3000, 5000, 1000, 100, 1000, 25, 20)


class Bench:
    """A firmware instance with its board, manual clock and a host-side parser."""

    def __init__(self, lock: int = messages.LOCK_FAIL_SECURE) -> None:
        self.clock = FakeTime(manual=True)
        self.board = FakeBoard(self.clock)
        self.uart = MemoryUart()
        self.fw = fw.Firmware(self.board, self.clock, self.uart, session=0x1234, lock=lock)
        self.parser = frames.FrameParser()
        self.seq = 0
        self.lock = lock
        self.seen: list[tuple[int, int, bytes]] = []
        self.host_alive = True  # heartbeat every 100 ms while running
        self.ack_events = True

    def run(self, ms: int) -> None:
        for tick in range(ms):
            if self.host_alive and tick % 100 == 0:
                self.uart.to_mcu.extend(frames.encode_frame(0, messages.HEARTBEAT))
            self.fw.poll()
            self.frames()
            self.clock.advance_ms(1)

    def frames(self) -> list[tuple[int, int, bytes]]:
        """New frames from the MCU (also kept in `seen`); events are ACKed like the host."""
        data, self.uart.from_mcu = bytes(self.uart.from_mcu), bytearray()
        parsed = self.parser.feed(data)
        self.seen += parsed
        for seq, msg_type, _ in parsed:
            if self.ack_events and msg_type in messages.MCU_EVENTS:
                self.uart.to_mcu.extend(
                    frames.encode_frame(0, messages.ACK, messages.pack_ack(seq))
                )
        return parsed

    def events(self, msg_type: int) -> list[bytes]:
        return [payload for _, t, payload in self.seen if t == msg_type]

    def command(self, msg_type: int, payload: bytes = b"", seq: int | None = None) -> bytes:
        """Send one reliable frame; returns the ACK/NAK payload the firmware answered."""
        if seq is None:
            self.seq = frames.next_seq(self.seq)
            seq = self.seq
        self.uart.to_mcu.extend(frames.encode_frame(seq, msg_type, payload))
        self.fw.poll()
        replies = [(t, p) for _, t, p in self.frames() if t in (messages.ACK, messages.NAK)]
        assert len(replies) == 1, replies
        kind, body = replies[0]
        assert body[0] == seq
        return body if kind == messages.NAK else b"ACK" + body[1:]

    def hello(self) -> None:
        hello = messages.pack_hello(self.lock, 3000, 5000, 1000, 100, 1000, 25, 20)
        assert self.command(messages.HELLO, hello).startswith(b"ACK")

    def release(self, duration_ms: int, ttl_ms: int = 200, session: int = 0x1234) -> bytes:
        deadline = messages.ticks_add(self.clock.ticks_ms(), ttl_ms)
        return self.command(messages.RELEASE, messages.pack_release(session, deadline, duration_ms))

    @property
    def relay(self) -> int:
        return int(self.board.pins[fw.PIN_RELAY].level)

    def press(self, pin: int, ms: int = 50) -> None:
        self.board.pins[pin].drive(0)
        self.run(ms)
        self.board.pins[pin].drive(1)
        self.run(ms)


def nak(reason: int) -> bytes:
    return bytes((0, reason))


def test_relay_written_low_before_anything_else() -> None:
    bench = Bench()
    assert bench.board.pins[fw.PIN_RELAY].writes[:2] == [(bench.clock.ticks_ms(), 0)] * 2


def test_commands_refused_before_hello_and_release_works_after() -> None:
    bench = Bench()
    assert bench.release(1000)[1:] == nak(messages.NAK_NOT_READY)[1:]
    bench.hello()
    assert bench.release(1000) == b"ACK"
    assert bench.relay == 1
    bench.run(999)
    assert bench.relay == 1
    bench.run(2)
    assert bench.relay == 0


def test_release_capped_at_hard_maximum() -> None:
    bench = Bench()
    bench.hello()
    bench.release(60_000)
    bench.run(5_000)
    assert bench.relay == 1
    bench.run(2)
    assert bench.relay == 0


@pytest.mark.parametrize(
    ("ttl_ms", "session", "reason"),
    [
        (-1, 0x1234, messages.NAK_EXPIRED),
        (messages.MAX_COMMAND_TTL_MS + 1, 0x1234, messages.NAK_EXPIRED),
        (200, 0x9999, messages.NAK_WRONG_SESSION),
    ],
)
def test_late_foreign_or_far_future_release_never_opens(
    ttl_ms: int, session: int, reason: int
) -> None:
    bench = Bench()
    bench.hello()
    assert bench.release(1000, ttl_ms, session)[1] == reason
    bench.run(10)
    assert bench.relay == 0
    assert all(level == 0 for _, level in bench.board.pins[fw.PIN_RELAY].writes)


def test_duplicate_is_acknowledged_again_but_not_executed() -> None:
    bench = Bench()
    bench.hello()
    bits = encode_card(26, 1, 2)
    payload = messages.pack_bits(bits)
    assert bench.command(messages.WIEGAND_OUT, payload, seq=9) == b"ACK"
    assert bench.command(messages.WIEGAND_OUT, payload, seq=9) == b"ACK"
    d0, d1 = bench.board.pins[fw.PIN_WG_OUT_D0], bench.board.pins[fw.PIN_WG_OUT_D1]
    pulses = [level for _, level in d0.writes + d1.writes if level == 1]
    assert len(pulses) == 26
    assert bench.fw.dedup.duplicates == 1


def test_wiegand_out_timing_follows_hello() -> None:
    bench = Bench()
    bench.hello()
    start = bench.clock.ticks_us()
    bench.command(messages.WIEGAND_OUT, messages.pack_bits("1010"))
    assert messages.ticks_diff(bench.clock.ticks_us(), start) == 4 * 1000


def test_unknown_type_oversized_and_garbage_counted_never_open() -> None:
    bench = Bench()
    bench.hello()
    reply = bench.command(0x7F, b"x")
    assert reply[1] == messages.NAK_UNKNOWN_TYPE
    bench.uart.to_mcu.extend(bytes([frames.SYNC, 200, 1, messages.RELEASE]) + b"\x00" * 10)
    bench.uart.to_mcu.extend(bytes(range(256)) * 4)
    bench.run(5)
    assert bench.release(500, session=0x1234) == b"ACK"  # the link still works
    assert bench.fw.parser.errors["oversized"] >= 1
    assert bench.fw.parser.errors["junk"] > 0
    assert bench.fw.rx_errors == 1


def test_bad_payload_is_refused() -> None:
    bench = Bench()
    bench.hello()
    assert bench.command(messages.RELEASE, b"\x00")[1] == messages.NAK_BAD_PAYLOAD
    assert bench.relay == 0


def test_local_exit_works_without_host_and_watchdog_drops_relay() -> None:
    bench = Bench(messages.LOCK_FAIL_SAFE)
    bench.press(fw.PIN_EXIT)  # no host at all yet: maglock stays unpowered (released)
    assert bench.relay == 0
    bench.hello()
    bench.command(messages.SECURE)
    assert bench.relay == 1  # maglock holding
    bench.host_alive = False
    bench.run(1002)  # host silent longer than watchdog_ms
    assert bench.relay == 0 and bench.fw.counts["watchdog"] == 1
    assert bench.release(500)[1] == messages.NAK_NOT_READY


def test_local_exit_pulses_strike_without_host() -> None:
    bench = Bench()
    bench.board.pins[fw.PIN_EXIT].drive(0)
    bench.run(25)
    assert bench.relay == 1
    bench.board.pins[fw.PIN_EXIT].drive(1)
    bench.run(3000)
    assert bench.relay == 0


def test_fire_forces_relay_off_and_refuses_release() -> None:
    bench = Bench()
    bench.hello()
    bench.release(3000)
    bench.board.pins[fw.PIN_FIRE].drive(0)
    bench.run(25)
    assert bench.relay == 0
    assert bench.release(3000)[1] == messages.NAK_FIRE
    assert messages.unpack_input(bench.events(messages.INPUT)[-1])[:2] == (messages.IN_FIRE, 1)


def test_debounce_ignores_bounces_shorter_than_setting() -> None:
    bench = Bench()
    bench.hello()
    door = bench.board.pins[fw.PIN_DOOR]
    for _ in range(5):
        door.drive(0)
        bench.run(5)
        door.drive(1)
        bench.run(5)
    assert bench.events(messages.INPUT) == []


def test_wiegand_in_irq_frames_and_overlap_flag() -> None:
    bench = Bench()
    bench.hello()
    d0, d1 = bench.board.pins[fw.PIN_WG_IN_D0], bench.board.pins[fw.PIN_WG_IN_D1]
    bits = encode_card(26, 7, 77)
    for bit in bits:
        pin = d1 if bit == "1" else d0
        pin.drive(0)
        bench.clock.advance_ms(0.05)
        pin.drive(1)
        bench.clock.advance_ms(1)
    bench.run(30)
    d0.drive(0)
    d1.drive(0)
    d0.drive(1)
    d1.drive(1)
    bench.run(30)
    frames_in = [messages.unpack_wiegand_in(p) for p in bench.events(messages.WIEGAND_IN)]
    assert [(b, f) for b, f, _ in frames_in] == [
        (bits, messages.WG_CLEAN),
        ("01", messages.WG_OVERLAP),
    ]


def test_events_retransmitted_until_acked_then_dropped_after_retries() -> None:
    bench = Bench()
    bench.hello()
    bench.ack_events = False
    bench.press(fw.PIN_TAMPER)
    bench.run(2000)
    sent = bench.events(messages.INPUT)
    assert len(sent) == 2 * (1 + fw.EVENT_RETRIES)  # press and release, each retried
    assert len(set(sent)) == 2
    assert bench.fw.counts["dropped_events"] == 2
