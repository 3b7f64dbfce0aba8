"""Builds the call desk for one door from explicit parts: config, store, clocks, and callables
the service lends (the camera's latest frame, the alert recorder).

The camera starts after the desk is built, so the service passes a getter read at call time;
nothing here knows the service. Answers (and the door release they may cause) are the
application's `AnswerCallCommand`.
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
