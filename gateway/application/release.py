"""The door's release for a remote decision: one expiring grant, bounded by the request's own
expiry (a remote open, an accepted visitor call). Nothing once the request expired."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from gateway.application.parts import DoorView


def release_until(
    door: DoorView,
    now: Callable[[], datetime],
    reason: str,
    grant_id: str | None,
    expires_at: datetime,
) -> bool:
    """Ask the door thread for one grant that lapses at `expires_at`; False when it already has."""
    remaining_s = (expires_at - now()).total_seconds()
    if remaining_s <= 0:
        return False
    door.request_grant(reason, grant_id, door.clock_ns() + int(remaining_s * 1e9))
    return True
