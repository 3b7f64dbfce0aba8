"""Watch-list entries (encrypted, model-tagged) and the forward-only sync versions."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select, update

from gateway.store.schema_credentials import WatchlistEntry
from gateway.store.store import Store
from gateway.store.watchlist import (
    advance_sync_version,
    load_watchlist,
    remove_watchlist_entry,
    sync_version,
    upsert_watchlist_entry,
)
from tests.store.conftest import T0

MODEL = "sface-2021dec"


def vec(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(128).astype(np.float32)


def test_entries_round_trip_and_other_models_are_refused(store: Store) -> None:
    with store.sessions.writing() as session:
        for i, model in enumerate((MODEL, MODEL, "arcface-r100")):
            upsert_watchlist_entry(
                session,
                store.cipher,
                external_id=f"w-{i}",
                category="banned",
                model_id=model,
                vector=vec(i),
                version=1,
                at=T0,
            )
        upsert_watchlist_entry(
            session,
            store.cipher,
            external_id="w-1",
            category="missing_person",
            model_id=MODEL,
            vector=vec(11),
            version=2,
            at=T0,
        )
    with store.sessions.reading() as session:
        load = load_watchlist(session, store.cipher, MODEL, 128)
    assert [(ext, cat) for ext, cat, _ in load.rows] == [
        ("w-0", "banned"),
        ("w-1", "missing_person"),
    ]
    np.testing.assert_array_equal(load.rows[1][2], vec(11))
    assert load.refused_by_model == {"arcface-r100": 1}
    with store.sessions.writing() as session:
        assert remove_watchlist_entry(session, "w-0")
        assert not remove_watchlist_entry(session, "w-0")


def test_a_relabelled_watchlist_row_does_not_decrypt(store: Store) -> None:
    with store.sessions.writing() as session:
        for ext in ("w-a", "w-b"):
            upsert_watchlist_entry(
                session,
                store.cipher,
                external_id=ext,
                category="banned",
                model_id=MODEL,
                vector=vec(1),
                version=1,
                at=T0,
            )
        a = session.scalars(select(WatchlistEntry).where(WatchlistEntry.external_id == "w-a")).one()
        session.execute(
            update(WatchlistEntry)
            .where(WatchlistEntry.external_id == "w-b")
            .values(nonce=a.nonce, ciphertext=a.ciphertext)
        )
    with store.sessions.reading() as session:
        load = load_watchlist(session, store.cipher, MODEL, 128)
    assert [ext for ext, _, _ in load.rows] == ["w-a"]
    assert load.unreadable_external_ids == ["w-b"]


def test_sync_versions_only_move_forward(store: Store) -> None:
    with store.sessions.writing() as session:
        assert sync_version(session, "people") == 0
        advance_sync_version(session, "people", 5, T0)
        advance_sync_version(session, "people", 5, T0)  # re-applying the same delta is fine
        advance_sync_version(session, "watchlist", 2, T0)
        with pytest.raises(ValueError, match="older"):
            advance_sync_version(session, "people", 4, T0)
        with pytest.raises(ValueError, match="unknown sync stream"):
            sync_version(session, "cards")
    with store.sessions.reading() as session:
        assert (sync_version(session, "people"), sync_version(session, "watchlist")) == (5, 2)
