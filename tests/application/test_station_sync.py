"""Sync people and the watch list as application commands: a real store, deltas as the station
sends them. A delta is applied with its audit row and the door told to reload; a refused one
changes nothing, writes no audit row and reloads nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from gateway.application.actor import Actor
from gateway.application.delta_sync import SyncRefused, encode_vector
from gateway.application.station_sync import StationSync
from gateway.store.schema_credentials import FaceTemplate, WatchlistEntry
from gateway.store.schema_events import AuditEntry
from gateway.store.schema_people import Person
from gateway.store.store import Store
from tests.station.conftest import MODEL_ID, make_store
from tests.station.people_delta import people_delta

AT = datetime(2026, 3, 1, tzinfo=UTC)
STATION = Actor("station:ops")


@pytest.fixture
def synced(tmp_path: Path) -> Iterator[tuple[Store, StationSync, list[str]]]:
    store, door_id = make_store(tmp_path / "store")
    reloads: list[str] = []
    sync = StationSync(
        store,
        model_id=MODEL_ID,
        door_id=door_id,
        people_changed=lambda: reloads.append("people"),
        watchlist_changed=lambda: reloads.append("watchlist"),
    )
    try:
        yield store, sync, reloads
    finally:
        store.close()


def _audits(store: Store) -> list[tuple[str, str, str]]:
    with store.sessions.reading() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [(a.actor, a.action, a.target) for a in rows if a.action.startswith("sync_")]


def _count(store: Store, table: type) -> int:
    with store.sessions.reading() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_people_delta_is_applied_audited_and_reloaded(
    synced: tuple[Store, StationSync, list[str]],
) -> None:
    store, sync, reloads = synced
    outcome = sync.people(people_delta(3, 1, "A"), STATION, AT)
    assert (outcome.version, outcome.upserted, outcome.removed) == (1, 3, 0)
    assert _count(store, Person) == 3 and _count(store, FaceTemplate) == 3
    assert _audits(store) == [("station:ops", "sync_people", "version:1 upserted:3 removed:0")]
    assert reloads == ["people"]


def test_a_refused_delta_changes_nothing_audits_nothing_reloads_nothing(
    synced: tuple[Store, StationSync, list[str]],
) -> None:
    store, sync, reloads = synced
    with pytest.raises(SyncRefused) as other_model:
        sync.people(people_delta(2, 1, "A", model_id="another-model"), STATION, AT)
    with pytest.raises(SyncRefused) as skipped:
        sync.people(people_delta(2, 5, "A"), STATION, AT)  # builds on version 4: not stored
    assert (other_model.value.code, skipped.value.code) == ("model_mismatch", "version_gap")
    assert _count(store, Person) == 0 and _audits(store) == [] and reloads == []


def test_a_watch_list_delta_is_applied_audited_and_reloaded(
    synced: tuple[Store, StationSync, list[str]],
) -> None:
    store, sync, reloads = synced
    vector = encode_vector(np.ones(8, np.float32))
    delta = {
        "from_version": 0,
        "version": 1,
        "upserts": [
            {"external_id": "w-1", "category": "banned", "model_id": MODEL_ID, "vector": vector}
        ],
        "removes": [],
    }
    outcome = sync.watchlist(delta, STATION, AT)
    assert (outcome.stream, outcome.upserted) == ("watchlist", 1)
    assert _count(store, WatchlistEntry) == 1
    assert _audits(store) == [("station:ops", "sync_watchlist", "version:1 upserted:1 removed:0")]
    assert reloads == ["watchlist"]
