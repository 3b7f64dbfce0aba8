"""Sync people and the watch list: the station's versioned deltas as application commands.

Each applies its delta in one transaction with its audit row (delta_sync, people_sync: version
check, every template of the running model or nothing changes), then has the running door
reload its galleries, so a synced person is recognised (or a removed one no longer) at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from gateway.application.actor import Actor
from gateway.application.delta_sync import SyncOutcome, apply_watchlist_delta
from gateway.application.people_sync import Progress, apply_people_delta
from gateway.store.store import Store


def _nothing() -> None:
    return None


class StationSync:
    def __init__(
        self,
        store: Store,
        *,
        model_id: str,
        door_id: int,
        people_changed: Callable[[], object] | None = None,
        watchlist_changed: Callable[[], object] | None = None,
    ) -> None:
        self._store = store
        self._model_id = model_id
        self._door_id = door_id
        self._people_changed = people_changed or _nothing
        self._watchlist_changed = watchlist_changed or _nothing

    def people(
        self, delta: dict[str, Any], actor: Actor, at: datetime, progress: Progress | None = None
    ) -> SyncOutcome:
        """Raises SyncRefused (nothing changed) for a delta that cannot be applied."""
        outcome = apply_people_delta(
            self._store, delta, self._model_id, self._door_id, at, progress, actor
        )
        self._people_changed()
        return outcome

    def watchlist(self, delta: dict[str, Any], actor: Actor, at: datetime) -> SyncOutcome:
        """Raises SyncRefused (nothing changed) for a delta that cannot be applied."""
        outcome = apply_watchlist_delta(self._store, delta, self._model_id, at, actor)
        self._watchlist_changed()
        return outcome
