"""Unknown-loiterer detection: the same unknown face seen repeatedly, or for long, near the door.

Unknown faces are re-identified through their embeddings, kept only in memory and only for
`window_s` (privacy: nothing is stored, and a person unseen for the window is forgotten). Each
remembered person has a running mean embedding, the set of tracks they appeared in and their dwell
time. An alert is raised once per remembered person, when visits or dwell reach the configured
limits. A person who is granted (they were a resident after all) is forgotten at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gateway.config.access import LoiterConfig

Vector = npt.NDArray[np.float32]
# Gaps between sightings longer than this do not count as dwell (the person left and came back).
MAX_DWELL_GAP_S = 3.0


@dataclass
class UnknownPerson:
    """One remembered unknown face (memory only)."""

    person_id: int
    centroid: Vector
    first_seen: float
    last_seen: float
    tracks: set[int] = field(default_factory=set)
    dwell_s: float = 0.0
    sightings: int = 0
    alerted: bool = False


@dataclass(frozen=True)
class LoiterAlert:
    person_id: int
    visits: int
    dwell_s: float
    first_seen: float
    track_id: int


class LoiterDetector:
    """Feed it unknown faces (`observe`); it answers with an alert when someone loiters."""

    def __init__(self, config: LoiterConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self._people: dict[int, UnknownPerson] = {}
        self._track_person: dict[int, int] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._people)

    def observe(self, track_id: int, embedding: Vector) -> LoiterAlert | None:
        now = self.clock()
        self.purge(now)
        person = self._person_for(track_id, embedding, now)
        gap = now - person.last_seen
        if 0 < gap <= MAX_DWELL_GAP_S:
            person.dwell_s += gap
        person.last_seen = now
        person.sightings += 1
        person.tracks.add(track_id)
        # Running mean of unit vectors, renormalised: robust to a single odd frame.
        mixed = person.centroid * (person.sightings - 1) + embedding
        person.centroid = (mixed / max(float(np.linalg.norm(mixed)), 1e-12)).astype(np.float32)
        if person.alerted:
            return None
        visits = len(person.tracks)
        if visits >= self.config.min_visits or person.dwell_s >= self.config.min_dwell_s:
            person.alerted = True
            return LoiterAlert(
                person.person_id, visits, person.dwell_s, person.first_seen, track_id
            )
        return None

    def _person_for(self, track_id: int, embedding: Vector, now: float) -> UnknownPerson:
        known = self._track_person.get(track_id)
        if known is not None and known in self._people:
            return self._people[known]
        best, best_score = None, self.config.same_person_similarity
        for person in self._people.values():
            score = float(person.centroid @ embedding)
            if score >= best_score:
                best, best_score = person, score
        if best is None:
            if len(self._people) >= self.config.max_people:
                oldest = min(self._people.values(), key=lambda p: p.last_seen)
                self._drop(oldest.person_id)
            best = UnknownPerson(next(self._ids), embedding.astype(np.float32), now, now)
            self._people[best.person_id] = best
        self._track_person[track_id] = best.person_id
        return best

    def forget_track(self, track_id: int) -> None:
        """The track was granted: whoever it matched is not an unknown loiterer."""
        person_id = self._track_person.get(track_id)
        if person_id is not None:
            self._drop(person_id)

    def purge(self, now: float) -> None:
        """Forget everyone unseen for longer than the window."""
        for person in list(self._people.values()):
            if now - person.last_seen > self.config.window_s:
                self._drop(person.person_id)

    def _drop(self, person_id: int) -> None:
        self._people.pop(person_id, None)
        for track_id in [t for t, p in self._track_person.items() if p == person_id]:
            del self._track_person[track_id]
