"""The status query: one projection of the running gateway, for the staff page and the station.

The staff page shows `GatewayStatus.checks`; the station's `status` reply (`station_status`) is
the same snapshot in the station protocol's shape, with the door in Home Assistant's lock
vocabulary (never "locked" for a state it does not know).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware_bridge.door import DoorState
from gateway.application.parts import CameraView, DoorView, VisionView

HA_LOCK_STATES = {
    DoorState.LOCKED: "LOCKED",
    DoorState.UNLOCKED: "UNLOCKED",
    DoorState.OPEN: "OPEN",
    DoorState.CLOSED: "LOCKED",
    DoorState.FIRE_RELEASED: "UNLOCKED",
}


@dataclass(frozen=True)
class HealthCheck:
    """One line of the health panel: a component, whether it is fine, and a short detail."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class GalleryCounts:
    residents: int
    templates: int
    watchlist: int
    refused: int  # templates not loaded: another model, invalid, wrong size or undecryptable


@dataclass(frozen=True)
class GatewayStatus:
    """What the dashboard shows about the running door."""

    door_state: str
    checks: tuple[HealthCheck, ...] = ()
    lock_state: str | None = None
    vision_running: bool = False
    camera_state: str | None = None
    camera_conditions: tuple[str, ...] = ()


def station_status(status: GatewayStatus) -> dict[str, Any]:
    """The station protocol's `status` payload (docs/mqtt.md)."""
    known = status.door_state != "stopped"
    health: dict[str, Any] = {"vision": status.vision_running}
    if status.camera_state is not None:
        health["camera"] = status.camera_state
        health["camera_conditions"] = list(status.camera_conditions)
    return {
        "door": {
            "lock_state": status.lock_state,
            "state": status.door_state if known else None,
        },
        "health": health,
    }


class StatusQuery:
    """Door state and health checks of the running parts (any of them may be absent)."""

    def __init__(
        self,
        *,
        door: DoorView | None,
        camera: CameraView | None,
        vision: VisionView | None,
        gallery_counts: Callable[[], GalleryCounts | None],
        broker: Callable[[], HealthCheck],
        alive: Callable[[], bool],
    ) -> None:
        self._door = door
        self._camera = camera
        self._vision = vision
        self._gallery_counts = gallery_counts
        self._broker = broker
        self._alive = alive

    def __call__(self) -> GatewayStatus:
        checks = []
        door_state, lock_state = "stopped", None
        if self._door is not None:
            state = self._door.state
            door_state, lock_state = state.value, HA_LOCK_STATES.get(state)
            alarms = ", ".join(sorted(a.value for a in self._door.alarms))
            checks.append(HealthCheck("door", self._door.running, alarms))
        camera_state: str | None = None
        conditions: tuple[str, ...] = ()
        if self._camera is not None:
            camera = self._camera.status()
            camera_state = str(camera.capture.state)
            conditions = tuple(str(kind) for kind in camera.health.active)
            active = [str(c.kind) for c in camera.health.conditions if c.active]
            age = camera.health.last_frame_age_s
            detail = camera_state + (f", frame {age:.1f} s old" if age is not None else "")
            ok = not active and camera_state == "running"
            checks.append(
                HealthCheck("camera", ok, detail + (f"; {', '.join(active)}" if active else ""))
            )
        checks.append(self._models_check())
        checks.append(self._broker())
        vision_running = self._vision is not None and self._vision.running
        return GatewayStatus(
            door_state, tuple(checks), lock_state, vision_running, camera_state, conditions
        )

    def _models_check(self) -> HealthCheck:
        counts = self._gallery_counts()
        ok = self._vision is not None
        detail = (
            "" if counts is None else f"{counts.residents} people, {counts.templates} templates"
        )
        if counts is not None and counts.refused:
            ok = False
            detail += f", {counts.refused} not loaded (another model or damaged: re-enrol)"
        return HealthCheck("models", ok and self._alive(), detail)


def broker_check(connected: bool | None, last_error: str | None) -> HealthCheck:
    """The broker line: None means the station link is disabled."""
    if connected is None:
        return HealthCheck("broker", True, "station link disabled ([station] enabled)")
    detail = "connected" if connected else (last_error or "connecting")
    return HealthCheck("broker", connected, detail)
