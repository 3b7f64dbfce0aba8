"""Host driver and firmware over a real pty: the full protocol, and faults that must never open
the door, wedge the link, or leave the relay on past its maximum."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge.backends.mcu import McuDoorIO
from firmware_bridge.config import DoorConfig, McuConfig
from firmware_bridge.door import DoorController, DoorState, kinds
from firmware_bridge.firmware import main as fw
from firmware_bridge.io import (
    DoorEvent,
    DoorOpened,
    HardwareError,
    InputRejected,
    LinkChanged,
    WiegandReceived,
)
from firmware_bridge.protocol import frames, messages
from firmware_bridge.wiegand import CardRead, encode_card

from .mcu_rig import McuRig, frame_type, wait_for

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[McuRig]:
    rig = McuRig(tmp_path)
    rig.io.start()
    yield rig
    rig.close()
    # exact limits are asserted with a manual clock in test_firmware; here allow thread jitter
    assert rig.longest_on_ms() <= rig.config.max_unlock_ms + 100


@pytest.fixture
def maglock_rig(tmp_path: Path) -> Iterator[McuRig]:
    rig = McuRig(tmp_path, "fail_safe")
    rig.io.start()
    yield rig
    rig.close()


def collect(io: McuDoorIO, seen: list[DoorEvent]) -> list[DoorEvent]:
    seen += io.read_events(0.02)
    return seen


def test_missing_port_is_a_clear_error(tmp_path: Path) -> None:
    config = DoorConfig(backend="mcu", mcu=McuConfig(port=str(tmp_path / "nope")))
    with pytest.raises(HardwareError, match=f"cannot open MCU serial port {tmp_path}/nope"):
        McuDoorIO(config).start()


def test_release_inputs_and_wiegand_end_to_end(rig: McuRig) -> None:
    assert rig.relay() == 0
    rig.io.release(300)
    assert rig.relay() == 1
    wait_for(lambda: rig.relay() == 0, 1.0)
    assert 280 <= rig.longest_on_ms() <= 450  # thread scheduling jitter of the fake MCU
    rig.board.pins[fw.PIN_DOOR].drive(0)
    bits = encode_card(34, 4321, 60000)
    for bit in bits:
        pin = rig.board.pins[fw.PIN_WG_IN_D1 if bit == "1" else fw.PIN_WG_IN_D0]
        pin.drive(0)
        pin.drive(1)
    seen: list[DoorEvent] = []
    wait_for(lambda: len([e for e in collect(rig.io, seen) if not isinstance(e, LinkChanged)]) >= 2)
    assert any(isinstance(e, DoorOpened) for e in seen)
    assert [e.read for e in seen if isinstance(e, WiegandReceived)] == [
        CardRead(34, 4321, 60000, bits)
    ]
    wait_for(lambda: rig.io.inputs().door_open)
    rig.io.send_wiegand(encode_card(26, 1, 1))
    out = rig.board.pins[fw.PIN_WG_OUT_D0].writes + rig.board.pins[fw.PIN_WG_OUT_D1].writes
    assert sum(level for _, level in out) == 26


def test_corrupted_first_attempt_is_retransmitted(rig: McuRig) -> None:
    hits = []

    def corrupt_first_release(frame: bytes) -> list[bytes]:
        if frame_type(frame) == messages.RELEASE and not hits:
            hits.append(frame)
            return [frame[:5] + bytes([frame[5] ^ 0xFF]) + frame[6:]]
        return [frame]

    rig.to_mcu = corrupt_first_release
    # The retransmission keeps the first attempt's deadline (safety); give it room so a loaded
    # machine's scheduling delay cannot expire it (the rig's 200 ms is for the lateness tests).
    rig.config.mcu.command_ttl_ms = 2000
    rig.io.release(300)
    assert rig.relay() == 1
    assert rig.io.counters()["link.retransmit"] >= 1
    assert rig.firmware is not None and rig.firmware.parser.errors["crc"] >= 1


def test_duplicated_frames_execute_once(rig: McuRig) -> None:
    rig.to_mcu = lambda frame: [frame, frame]
    rig.io.send_wiegand(encode_card(26, 3, 4))
    out = rig.board.pins[fw.PIN_WG_OUT_D0].writes + rig.board.pins[fw.PIN_WG_OUT_D1].writes
    assert sum(level for _, level in out) == 26
    assert rig.firmware is not None and rig.firmware.dedup.duplicates >= 1


def test_dropped_ack_leads_to_retransmit_not_double_execution(rig: McuRig) -> None:
    assert rig.uart is not None
    dropped = []

    def drop_first_ack(frame: bytes) -> list[bytes]:
        if frame_type(frame) == messages.ACK and not dropped:
            dropped.append(frame)
            return []
        return [frame]

    rig.uart.outgoing = drop_first_ack
    rig.io.release(300)
    assert dropped and rig.relay_on_count() == 1
    assert rig.firmware is not None and rig.firmware.dedup.duplicates == 1


def test_late_release_is_refused_and_never_opens(rig: McuRig) -> None:
    def deliver_late(frame: bytes) -> list[bytes]:
        if frame_type(frame) == messages.RELEASE:
            threading.Timer(0.3, rig.inject_to_mcu, (frame,)).start()
            return []
        return [frame]

    rig.to_mcu = deliver_late
    with pytest.raises(HardwareError):
        rig.io.release(300)
    time.sleep(0.5)
    assert rig.firmware is not None and rig.firmware.counts["expired"] >= 1
    assert rig.relay_on_count() == 0


def test_replayed_release_after_other_commands_never_opens(rig: McuRig) -> None:
    captured = []
    rig.to_mcu = lambda frame: captured.append(frame) or [frame]  # type: ignore[func-returns-value]
    rig.io.release(300)
    wait_for(lambda: rig.relay() == 0)
    rig.io.secure()
    replay = next(f for f in captured if frame_type(f) == messages.RELEASE)
    rig.to_mcu = lambda frame: [frame]
    rig.inject_to_mcu(replay)
    time.sleep(0.2)
    assert rig.relay_on_count() == 1
    assert rig.firmware is not None and rig.firmware.counts["expired"] == 1


def test_mcu_reset_mid_command_never_opens_and_link_recovers(rig: McuRig) -> None:
    def reset_during_release(frame: bytes) -> list[bytes]:
        if frame_type(frame) == messages.RELEASE and len(rig.boards) == 1:
            rig.reset_mcu()
            return []
        return [frame]

    rig.to_mcu = reset_during_release
    with pytest.raises(HardwareError, match=r"not_ready|wrong_session|not connected"):
        rig.io.release(300)
    assert rig.relay(rig.boards[-1]) == 0 and rig.relay_on_count() == 0
    rig.wait_link(up=False)
    rig.wait_link(up=True)
    assert rig.io.counters()["link.down.mcu_reset"] == 1
    rig.to_mcu = lambda frame: [frame]
    rig.io.release(300)
    assert rig.relay() == 1


def test_host_silence_trips_watchdog_and_link_comes_back(maglock_rig: McuRig) -> None:
    rig = maglock_rig
    rig.io.secure()
    assert rig.relay() == 1  # maglock holding
    rig.to_mcu = lambda frame: []  # the host goes quiet
    wait_for(lambda: rig.relay() == 0, 1.0)  # maglock's unpowered state
    assert rig.firmware is not None and rig.firmware.counts["watchdog"] == 1
    rig.wait_link(up=False)
    rig.to_mcu = lambda frame: [frame]
    rig.wait_link(up=True)
    rig.io.secure()
    assert rig.relay() == 1


def test_garbage_flood_both_ways_never_opens_or_wedges(rig: McuRig) -> None:
    noise = random.Random(7)
    junk = bytes(noise.randrange(256) for _ in range(4000))
    unknown = frames.encode_frame(5, 0x6E, b"hello")
    oversized = bytes([frames.SYNC, 250, 1, messages.INPUT]) + b"\x00" * 8
    bad_input = frames.encode_frame(6, messages.INPUT, b"\x09\x01\x00\x00\x00\x00")
    rig.inject_to_host(junk + unknown + oversized + bad_input + junk)
    for start in range(0, len(junk), 500):
        rig.inject_to_mcu(junk[start : start + 500])
    time.sleep(0.3)
    assert rig.relay_on_count() == 0
    rig.io.release(300)  # still works
    assert rig.relay() == 1
    counters = rig.io.counters()
    assert counters["rejected.frame.junk"] > 0
    assert counters["rejected.frame.unknown_type"] == 1
    assert counters["rejected.frame.bad_payload"] == 1
    assert counters["rejected.frame.oversized"] >= 1
    seen: list[DoorEvent] = []
    wait_for(lambda: len([e for e in collect(rig.io, seen) if isinstance(e, InputRejected)]) >= 2)


def test_port_disappears_and_comes_back(rig: McuRig) -> None:
    rig.unplug()
    rig.wait_link(up=False)
    with pytest.raises(HardwareError):
        rig.io.release(300)
    assert rig.relay_on_count() == 0
    rig.plug()
    rig.wait_link(up=True)
    rig.io.release(300)
    assert rig.relay() == 1
    assert rig.io.counters()["link.port_lost"] >= 1


def test_door_controller_over_the_mcu_maglock(maglock_rig: McuRig) -> None:
    rig = maglock_rig
    door = DoorController(rig.io, rig.config)
    wait_for(lambda: door.step(0.02) is not None and rig.relay() == 1)
    assert rig.relay() == 1  # link up: the maglock is put back to holding
    assert kinds(door.grant("face:alice", time.monotonic_ns() + 10**8)) == ["locked->unlocked"]
    assert rig.relay() == 0
    rig.board.pins[fw.PIN_DOOR].drive(0)
    wait_for(lambda: door.step(0.02) is not None and door.state is DoorState.OPEN)
    rig.board.pins[fw.PIN_DOOR].drive(1)
    wait_for(lambda: door.step(0.02) is not None and door.state is DoorState.LOCKED)
    assert rig.relay() == 1
    late = door.grant("face:late", time.monotonic_ns() - 1)
    assert late == [] and door.counters.get("rejected.grant.expired") == 1
