"""The door rig's loop seen as the application sees a door (`DoorView`): reported running, turned
by hand with `run_once`; `before_grant` runs as a grant is asked for (to look at the store then)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.door import AlarmKind, DoorState
from tests.access.door_rig import DoorRig


@dataclass
class RunningDoor:
    rig: DoorRig
    running: bool = True
    before_grant: Callable[[str | None], None] | None = None

    @property
    def state(self) -> DoorState:
        return self.rig.loop.state

    @property
    def alarms(self) -> frozenset[AlarmKind]:
        return self.rig.loop.alarms

    def clock_ns(self) -> int:
        return self.rig.loop.clock_ns()

    def request_grant(
        self, reason: str, grant_id: str | None, not_after_ns: int | None = None
    ) -> None:
        if self.before_grant is not None:
            self.before_grant(grant_id)
        self.rig.loop.request_grant(reason, grant_id, not_after_ns)
