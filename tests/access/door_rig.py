"""A door the way the gateway runs it, without models: a real store, the access policy, the door
thread's loop, the card guard, the keypad, and the simulated door hardware whose Wiegand input
goes through the real edge decoder. One fake clock drives everything, so an attack of 600 cards
at 13 per second takes milliseconds and nothing depends on the machine's load."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from firmware_bridge.backends.sim import SimDoorIO
from firmware_bridge.config import DoorConfig
from firmware_bridge.door import DoorController
from firmware_bridge.safety import door_session
from firmware_bridge.wiegand import encode_card, encode_key
from gateway.access.alerts import AlertRecorder
from gateway.access.card_guard import UnknownCardGuard
from gateway.access.keypad import KeypadEntry
from gateway.access.policy import AccessDecision, AccessPolicy
from gateway.access.second_factor import SecondFactorWaits
from gateway.config.access import AccessConfig
from gateway.runtime.door_loop import DoorLoop
from gateway.store.schema_events import AccessEvent, Alert
from gateway.store.store import Store
from tests.store.conftest import T0

BIT_INTERVAL_S = 0.001  # one bit per millisecond on the wire (present_wiegand's default)
FRAME_GAP_S = 0.030  # past the 25 ms inter-frame gap: the frame is decoded


class FakeClock:
    """Monotonic time for the door (nanoseconds) and the guards (seconds), plus wall time."""

    def __init__(self) -> None:
        self.ns = 1_000_000_000_000

    def __call__(self) -> int:
        return self.ns

    def seconds(self) -> float:
        return self.ns / 1e9

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=(self.ns - 1_000_000_000_000) / 1e9)

    def advance(self, seconds: float) -> None:
        self.ns += int(seconds * 1e9)


@dataclass
class DoorRig:
    store: Store
    door_id: int
    config: AccessConfig
    clock: FakeClock
    io: SimDoorIO
    loop: DoorLoop
    decisions: list[AccessDecision] = field(default_factory=list)

    @property
    def policy(self) -> AccessPolicy:
        return self.loop.policy

    def send(self, bits: str) -> None:
        """A reader sends one frame: its edges go through the sim's real Wiegand decoder, then
        the door thread runs once it is complete."""
        self.io.present_wiegand(bits)
        self.clock.advance(len(bits) * BIT_INTERVAL_S + FRAME_GAP_S)
        self.loop.run_once(0.0)

    def swipe(self, facility: int, number: int, format_bits: int = 26) -> None:
        self.send(encode_card(format_bits, facility, number))

    def type(self, keys: str, gap_s: float = 0.3) -> None:
        """Keys one frame each (4-bit keypad), at a human pace."""
        for key in keys:
            self.send(encode_key(key))
            self.clock.advance(gap_s)

    def release_count(self) -> int:
        """How many times the relay went energised (the door released)."""
        return sum(1 for _at, energised in self.io.relay_history if energised)

    def events(self) -> list[AccessEvent]:
        with self.store.sessions.reading() as session:
            return list(session.scalars(select(AccessEvent).order_by(AccessEvent.occurred_at)))

    def alerts(self) -> list[str]:
        with self.store.sessions.reading() as session:
            return [a.kind for a in session.scalars(select(Alert).order_by(Alert.id))]

    def wait_out_release(self) -> None:
        """Let a released door time out back to locked."""
        self.clock.advance(30.0)
        self.loop.run_once(0.0)


@contextmanager
def door_rig(store: Store, door_id: int, config: AccessConfig | None = None) -> Iterator[DoorRig]:
    access = config or AccessConfig()
    clock = FakeClock()
    door_config = DoorConfig()
    io = SimDoorIO(door_config, clock=clock)
    common = {"gateway_id": "gw-1", "door_id": door_id, "now": clock.wall}
    waits = SecondFactorWaits(access.second_factor.window_s, clock.seconds)
    policy = AccessPolicy(store, **common, second_factor=waits)  # type: ignore[arg-type]
    decisions: list[AccessDecision] = []
    with door_session(io, door_config):
        controller = DoorController(io, door_config, clock=clock)
        controller.arm()
        loop = DoorLoop(
            controller,
            policy,
            KeypadEntry(access.keypad, clock.seconds),
            AlertRecorder(store, **common),  # type: ignore[arg-type]
            clock,
            decisions.append,
            UnknownCardGuard(access.card_reader, clock.seconds),
        )
        yield DoorRig(store, door_id, access, clock, io, loop, decisions)
    assert not io.relay_energised, "relay left energised"
