"""Tailgating: more people crossing on one grant than were granted.

After a grant, every other face track seen while the grant's window is open (and the door is
released or open) counts as a person crossing on it. One alert per grant, naming how many extra
people were seen. A second grant (another resident badging in) closes the previous window.
Door-held-open alarms come from the door state machine, not from here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.config.access import TailgateConfig


@dataclass
class _OpenGrant:
    granted_track: int | None
    opened_at: float
    others: set[int] = field(default_factory=set)
    alerted: bool = False


@dataclass(frozen=True)
class TailgateAlert:
    granted_track: int | None
    extra_people: int
    at: float


class TailgateDetector:
    def __init__(self, config: TailgateConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self._grant: _OpenGrant | None = None
        self._granted_tracks: deque[int] = deque(maxlen=256)  # recent granted face tracks

    def on_grant(self, granted_track: int | None) -> None:
        """A grant by face (its track id) or by card/code/remote (None)."""
        self._grant = _OpenGrant(granted_track, self.clock())
        if granted_track is not None:
            self._granted_tracks.append(granted_track)

    def observe(self, track_id: int, door_open: bool) -> TailgateAlert | None:
        """A face track seen now; `door_open`: the door is released or physically open."""
        grant = self._grant
        now = self.clock()
        if grant is None or now - grant.opened_at > self.config.window_s:
            self._grant = None
            return None
        if not door_open or track_id in self._granted_tracks:
            return None
        grant.others.add(track_id)
        if grant.alerted:
            return None
        grant.alerted = True
        return TailgateAlert(grant.granted_track, len(grant.others), now)
