"""Door state machine with the sim backend: every transition, alarm, and relay timing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.backends.sim import SimDoorIO
from firmware_bridge.clock import ManualClock
from firmware_bridge.config import DoorConfig
from firmware_bridge.door import AlarmKind, DoorController, DoorState, kinds
from firmware_bridge.io import HardwareError, InputName, InputRejected, WiegandReceived
from firmware_bridge.wiegand import CardRead, encode_card

MS = 1_000_000


def make(lock_type: str = "fail_secure") -> tuple[ManualClock, SimDoorIO, DoorController]:
    clock = ManualClock()
    config = DoorConfig(lock_type=lock_type, unlock_ms=3000, max_unlock_ms=5000, held_open_s=10)
    io = SimDoorIO(config, clock)
    io.start()
    door = DoorController(io, config, clock)
    return clock, io, door


def later(clock: ManualClock, ms: int = 500) -> int:
    return clock() + ms * MS


def test_full_cycle_grant_open_close_relock() -> None:
    clock, io, door = make()
    assert io.relay_energised is False
    assert kinds(door.grant("face:alice", later(clock))) == ["locked->unlocked"]
    assert io.relay_energised is True  # strike: powered to release
    clock.advance_ms(800)
    io.set_input(InputName.DOOR_CONTACT, True)
    assert kinds(door.step(0)) == ["unlocked->open"]
    clock.advance_ms(2000)
    io.set_input(InputName.DOOR_CONTACT, False)
    assert kinds(door.step(0)) == ["open->closed", "closed->locked"]
    assert door.state is DoorState.LOCKED and io.relay_energised is False
    assert door.alarms == frozenset()


def test_unused_grant_relocks_after_unlock_time() -> None:
    clock, io, door = make()
    door.grant("face:bob", later(clock))
    clock.advance_ms(2999)
    assert kinds(door.step(0)) == []
    clock.advance_ms(1)
    assert kinds(door.step(0)) == ["unlocked->locked"]
    assert io.relay_energised is False


def test_late_grant_never_opens_and_is_counted() -> None:
    clock, io, door = make()
    expiry = later(clock, 100)
    clock.advance_ms(101)
    assert door.grant("face:late", expiry) == []
    assert door.state is DoorState.LOCKED and io.relay_energised is False
    assert door.counters.get("rejected.grant.expired") == 1
    assert io.relay_history == [(clock() - 101 * MS, False)]


def test_exit_press_releases_without_forced_alarm() -> None:
    _clock, io, door = make()
    io.set_input(InputName.EXIT_BUTTON, True)
    io.set_input(InputName.DOOR_CONTACT, True)
    assert kinds(door.step(0)) == ["locked->unlocked", "unlocked->open"]
    assert AlarmKind.FORCED_OPEN not in door.alarms


def test_forced_open_and_held_open_alarms_clear_on_close() -> None:
    clock, io, door = make()
    io.set_input(InputName.DOOR_CONTACT, True)
    assert kinds(door.step(0)) == ["+forced_open", "locked->open"]
    clock.advance_ms(9_999)
    assert kinds(door.step(0)) == []
    clock.advance_ms(1)
    assert kinds(door.step(0)) == ["+held_open"]
    assert kinds(door.step(0)) == []  # raised once
    io.set_input(InputName.DOOR_CONTACT, False)
    assert kinds(door.step(0)) == ["open->closed", "closed->locked", "-forced_open", "-held_open"]
    assert door.counters.get("alarm.forced_open") == 1


def test_held_open_after_a_grant() -> None:
    clock, io, door = make()
    door.grant("face:carol", later(clock))
    io.set_input(InputName.DOOR_CONTACT, True)
    door.step(0)
    clock.advance_ms(10_000)
    assert kinds(door.step(0)) == ["+held_open"]
    assert AlarmKind.FORCED_OPEN not in door.alarms


def test_tamper_alarm_raises_and_clears_without_touching_the_lock() -> None:
    _clock, io, door = make()
    io.set_input(InputName.TAMPER, True)
    assert kinds(door.step(0)) == ["+tamper"]
    io.set_input(InputName.TAMPER, False)
    assert kinds(door.step(0)) == ["-tamper"]
    assert [e for _, e in io.relay_history] == [False]


def test_fire_releases_maglock_and_blocks_relock_until_cleared() -> None:
    clock, io, door = make("fail_safe")
    io.secure()
    assert io.relay_energised is True  # maglock holds while powered
    io.set_input(InputName.FIRE_ALARM, True)
    assert kinds(door.step(0)) == ["+fire_release", "locked->fire_released"]
    assert io.relay_energised is False
    io.set_input(InputName.DOOR_CONTACT, True)
    assert kinds(door.step(0)) == []  # not forced: everyone is leaving
    assert door.grant("face:x", later(clock)) == []
    assert io.relay_energised is False
    io.set_input(InputName.FIRE_ALARM, False)
    assert kinds(door.step(0)) == ["-fire_release", "fire_released->open"]
    assert io.relay_energised is True


def test_fire_leaves_fail_secure_strike_locked() -> None:
    _clock, io, door = make("fail_secure")
    io.set_input(InputName.FIRE_ALARM, True)
    assert kinds(door.step(0)) == ["+fire_release"]
    assert io.relay_energised is False and door.state is DoorState.LOCKED


@pytest.mark.parametrize("lock_type", ["fail_secure", "fail_safe"])
def test_release_is_capped_at_the_hard_maximum(lock_type: str) -> None:
    clock, io, _door = make(lock_type)
    io.secure()
    io.release(60_000)
    released = io.relay_energised
    clock.advance_ms(4_999)
    assert io.inputs().relay_energised is released
    clock.advance_ms(1)
    assert io.inputs().relay_energised is not released


def test_card_through_edges_and_noise_counted() -> None:
    clock, io, door = make()
    bits = encode_card(26, 12, 3456)
    io.present_wiegand(bits)
    clock.advance_ms(60)
    events = io.read_events(0)
    assert [e.read for e in events if isinstance(e, WiegandReceived)] == [
        CardRead(26, 12, 3456, bits)
    ]
    io.present_wiegand(bits[:-1] + ("0" if bits[-1] == "1" else "1"))
    clock.advance_ms(60)
    [rejected] = io.read_events(0)
    assert isinstance(rejected, InputRejected) and rejected.reason == "parity"
    assert io.counters() == {"rejected.wiegand.parity": 1}
    assert door.state is DoorState.LOCKED and io.relay_energised is False


def test_replayed_grant_id_never_opens_twice() -> None:
    clock, io, door = make()
    assert kinds(door.grant("face:alice", later(clock), grant_id="g-1")) == ["locked->unlocked"]
    clock.advance_ms(3000)
    door.step(0)
    assert door.state is DoorState.LOCKED
    assert door.grant("face:alice", later(clock), grant_id="g-1") == []
    assert io.relay_energised is False
    assert door.counters.get("rejected.grant.replayed") == 1


def test_failed_release_keeps_the_door_locked() -> None:
    clock, io, door = make()

    def broken(duration_ms: int) -> None:
        raise HardwareError("MCU on /dev/x is not connected")

    io.release = broken  # type: ignore[method-assign]
    assert door.grant("face:bob", later(clock)) == []
    assert door.state is DoorState.LOCKED
    assert door.counters.get("rejected.grant.hardware") == 1


def test_fire_cleared_with_door_closed_relocks_maglock() -> None:
    _clock, io, door = make("fail_safe")
    io.secure()
    io.set_input(InputName.FIRE_ALARM, True)
    door.step(0)
    io.set_input(InputName.FIRE_ALARM, False)
    assert kinds(door.step(0)) == ["-fire_release", "fire_released->locked"]
    assert io.relay_energised is True


noise_inputs = st.lists(
    st.tuples(
        st.sampled_from([InputName.DOOR_CONTACT, InputName.TAMPER, InputName.FIRE_ALARM]),
        st.booleans(),
        st.integers(0, 40_000),
    ),
    max_size=40,
)


@given(noise_inputs, st.lists(st.text("01", max_size=40), max_size=5))
def test_no_input_sequence_without_grant_or_exit_energises_a_strike(
    inputs: list[tuple[InputName, bool, int]], frames: list[str]
) -> None:
    clock, io, door = make("fail_secure")
    for (name, active, wait_ms), bits in zip(inputs, frames + [""] * len(inputs), strict=False):
        io.set_input(name, active)
        if bits:
            io.present_wiegand(bits)
        clock.advance_ms(wait_ms)
        door.step(0)
    assert [energised for _, energised in io.relay_history] == [False]


@pytest.mark.parametrize(("lock_type", "energised"), [("fail_secure", False), ("fail_safe", True)])
def test_arm_puts_the_lock_in_service(lock_type: str, energised: bool) -> None:
    _clock, io, door = make(lock_type)
    assert io.relay_energised is False  # started de-energised
    door.arm()
    assert io.relay_energised is energised
