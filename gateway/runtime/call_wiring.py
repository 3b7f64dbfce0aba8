"""Builds the call desk from the running service: its config, store, door, camera and alerts.

Like the station wiring, the desk borrows the service's parts through small functions read at
call time (the camera and the door thread start after the desk is built). A release asked for
an accepted call is bounded by the answer's own expiry, as a remote open is.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from gateway.access.alerts import encode_snapshot
from gateway.access.visitor_call import VisitorCalls
from gateway.runtime.call_desk import CallDesk, DeskParts
from gateway.store.base import Severity

if TYPE_CHECKING:
    from gateway.runtime.service import AccessService


def _snapshot(service: AccessService) -> bytes | None:
    if service.camera is None:
        return None
    frame = service.camera.latest(0, 0.2)
    if frame is None:
        return None
    return encode_snapshot(frame.image, service.config.station.max_snapshot_bytes)


def _release(service: AccessService, reason: str, grant_id: str | None, expires: datetime) -> None:
    door = service.door_loop
    remaining_s = (expires - service.now()).total_seconds()
    if door is None or remaining_s <= 0:
        return
    door.request_grant(reason, grant_id, door.clock_ns() + int(remaining_s * 1e9))


def _alert(service: AccessService, kind: str, severity: Severity, detail: dict[str, Any]) -> None:
    if service.alerts is not None:
        service.alerts.raise_(kind, severity, detail)


def build_call_desk(service: AccessService) -> CallDesk:
    """The desk for the service's door (not started)."""
    config = service.config
    assert service.store is not None
    zone = ZoneInfo(config.site.timezone)

    def local_minute() -> int:
        local = service.now().astimezone(zone)
        return local.hour * 60 + local.minute

    parts = DeskParts(
        take_snapshot=lambda: _snapshot(service),
        release=lambda reason, grant_id, expires: _release(service, reason, grant_id, expires),
        raise_alert=lambda kind, severity, detail: _alert(service, kind, severity, detail),
        on_decision=service.notify_decision,
    )
    return CallDesk(
        VisitorCalls(config.access.visitor_call, time.monotonic, local_minute),
        service.store,
        parts,
        gateway_id=config.site.gateway_id,
        door_id=service.door_id,
        door_code=config.site.door_code,
        now=service.now,
    )
