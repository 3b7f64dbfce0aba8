"""The callbacks the station link borrows from the running service, and the link's start.

A remote open reaches the door only through `AccessPolicy.remote` (recorded with its outbox row)
and then the door thread's expiring grant; any refusal leaves the door shut. Status reports the
door in Home Assistant's lock vocabulary and never guesses "locked" for a state it does not know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from firmware_bridge.door import DoorState
from gateway.access.alerts import encode_snapshot
from gateway.ops.logging_setup import RUNTIME_APPLIERS
from gateway.ops.telemetry import collect_telemetry
from gateway.station.commands import OpenOutcome, RemoteOpen, StationCallbacks
from gateway.station.config_access import ModelConfigAccess
from gateway.station.link import StationLink

if TYPE_CHECKING:
    from gateway.runtime.service import AccessService

HA_LOCK_STATES = {
    DoorState.LOCKED: "LOCKED",
    DoorState.UNLOCKED: "UNLOCKED",
    DoorState.OPEN: "OPEN",
    DoorState.CLOSED: "LOCKED",
    DoorState.FIRE_RELEASED: "UNLOCKED",
}


def _remote_open(service: AccessService, request: RemoteOpen) -> OpenOutcome:
    policy, door = service.policy, service.door_loop
    if policy is None or door is None:
        return OpenOutcome(False, "not_ready")
    decision = policy.remote(request.command_id, request.requested_by, request.expires_at)
    service.notify_decision(decision)
    remaining_s = (request.expires_at - service.now()).total_seconds()
    if decision.granted and remaining_s > 0:
        # The command's own expiry bounds the release too, not only the door's grant lifetime.
        not_after = door.clock_ns() + int(remaining_s * 1e9)
        door.request_grant(f"remote:{request.requested_by}", decision.event_id, not_after)
        return OpenOutcome(True, decision.reason, decision.event_id)
    return OpenOutcome(False, decision.reason, decision.event_id)


def _status(service: AccessService) -> dict[str, Any]:
    door = service.door_loop
    state = door.door.state if door is not None else None
    health: dict[str, Any] = {
        "vision": service.vision_loop is not None and service.vision_loop.running
    }
    if service.camera is not None:
        camera = service.camera.status()
        health["camera"] = str(camera.capture.state)
        health["camera_conditions"] = [str(kind) for kind in camera.health.active]
    return {
        "door": {
            "lock_state": HA_LOCK_STATES.get(state) if state else None,
            "state": str(state) if state else None,
        },
        "health": health,
    }


def _snapshot(service: AccessService) -> bytes | None:
    if service.camera is None or service.store is None:
        return None
    frame = service.camera.latest(0, 0.5)
    if frame is None:
        return None
    return encode_snapshot(frame.image, service.config.station.max_snapshot_bytes)


def start_station_link(service: AccessService) -> StationLink | None:
    """Build and start the link when `[station] enabled`; None otherwise."""
    config = service.config
    if not config.station.enabled or service.store is None or service.pipeline is None:
        return None
    sources = service.telemetry_sources()  # one set: the fps provider keeps state
    callbacks = StationCallbacks(
        telemetry=lambda: collect_telemetry(sources)["values"],
        on_remote_open=lambda request: _remote_open(service, request),
        status=lambda: _status(service),
        take_snapshot=lambda: _snapshot(service),
        config=ModelConfigAccess(config, appliers=RUNTIME_APPLIERS),
        on_watchlist_changed=service.reload_galleries,
        on_people_changed=service.reload_galleries,
    )
    desk = service.call_desk
    if desk is not None:
        callbacks.on_call_answer = desk.answer
        callbacks.call_snapshot = desk.snapshot_of
    link = StationLink(
        config.station,
        service.store,
        site_id=config.site.id,
        gateway_id=config.site.gateway_id,
        door_id=service.door_id,
        model_id=service.pipeline.model_id,
        callbacks=callbacks,
        now=service.now,
    )
    link.start()
    if desk is not None:
        desk.notify_outbox = link.notify
    return link
