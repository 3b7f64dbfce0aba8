"""The door thread's grant queue: a queued release never outlives its own deadline."""

from __future__ import annotations

from typing import Any

from firmware_bridge.backends.sim import SimDoorIO
from firmware_bridge.config import DoorConfig
from firmware_bridge.door import DoorController
from firmware_bridge.safety import door_session
from gateway.runtime.door_loop import GRANT_TTL_NS, DoorLoop


class Clock:
    def __init__(self) -> None:
        self.now = 10_000_000_000

    def __call__(self) -> int:
        return self.now


CONFIG = DoorConfig()


def _loop(clock: Clock) -> tuple[DoorLoop, SimDoorIO]:
    config = CONFIG
    io = SimDoorIO(config, clock=clock)
    door = DoorController(io, config, clock=clock)
    unused: Any = None  # card, keypad and alert paths are not exercised here
    return DoorLoop(door, unused, unused, unused, clock), io


def test_a_grant_past_its_own_deadline_is_dropped_not_applied() -> None:
    clock = Clock()
    loop, io = _loop(clock)
    with door_session(io, CONFIG):
        loop.request_grant("remote:x", "g1", not_after_ns=clock.now + 50_000_000)
        clock.now += 100_000_000  # the door thread got to it 100 ms later
        loop.run_once(0.0)
        assert not io.relay_energised
        assert loop.door.counters.get("rejected.grant.expired") == 1


def test_a_grant_within_its_deadline_releases_and_the_ttl_still_caps_it() -> None:
    clock = Clock()
    loop, io = _loop(clock)
    with door_session(io, CONFIG):
        loop.request_grant("remote:x", "g2", not_after_ns=clock.now + 10 * GRANT_TTL_NS)
        clock.now += GRANT_TTL_NS + 1  # beyond the door's own grant lifetime
        loop.run_once(0.0)
        assert not io.relay_energised
        loop.request_grant("face:1", "g3")
        loop.run_once(0.0)
        assert io.relay_energised
