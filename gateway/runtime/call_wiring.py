"""Builds the call desk for one door from explicit parts: config, store, clocks, and callables
the service lends (the camera's latest frame, the door's expiring grant, the alert recorder).

The camera and the door thread start after the desk is built, so the service passes getters
read at call time; nothing here knows the service. A release asked for an accepted call is
bounded by the answer's own expiry, as a remote open is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.access.alerts import encode_snapshot
from gateway.access.visitor_call import VisitorCalls
from gateway.camera.runtime import Camera
from gateway.config.model import GatewayConfig
from gateway.runtime.call_desk import CallDesk, DeskParts
from gateway.runtime.door_loop import DoorLoop
from gateway.store.store import Store

Clock = Callable[[], datetime]


def latest_snapshot(camera: Camera | None, max_bytes: int) -> bytes | None:
    """The newest camera frame as a JPEG within `max_bytes`, or None without a frame."""
    if camera is None:
        return None
    frame = camera.latest(0, 0.2)
    if frame is None:
        return None
    return encode_snapshot(frame.image, max_bytes)


def release_until(
    door: DoorLoop | None, now: Clock, reason: str, grant_id: str | None, expires: datetime
) -> None:
    """Ask the door for one grant that lapses when the answer expires (nothing once expired)."""
    remaining_s = (expires - now()).total_seconds()
    if door is None or remaining_s <= 0:
        return
    door.request_grant(reason, grant_id, door.clock_ns() + int(remaining_s * 1e9))


def build_call_desk(
    config: GatewayConfig, store: Store, door_id: int, now: Clock, parts: DeskParts
) -> CallDesk:
    """The desk for the door (not started)."""
    zone = ZoneInfo(config.site.timezone)

    def local_minute() -> int:
        local = now().astimezone(zone)
        return local.hour * 60 + local.minute

    return CallDesk(
        VisitorCalls(config.access.visitor_call, time.monotonic, local_minute),
        store,
        parts,
        gateway_id=config.site.gateway_id,
        door_id=door_id,
        door_code=config.site.door_code,
        now=now,
    )
