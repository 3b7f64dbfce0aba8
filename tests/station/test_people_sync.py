"""People sync: 10,000 people with cards, consent and templates apply in one transaction; a process
killed half-way through the next delta leaves the previous set exactly as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.application.delta_sync import SyncRefused
from gateway.application.people_sync import apply_people_delta
from gateway.store.schema_credentials import Card, FaceTemplate
from gateway.store.schema_people import Person
from gateway.store.store import Store
from gateway.store.watchlist import sync_version
from tests.station.conftest import MODEL_ID, REPO, make_store
from tests.station.people_delta import people_delta

COUNT = 10_000


def snapshot(store: Store) -> tuple[int, int, int, int, set[str]]:
    with store.sessions.reading() as session:
        names = set(session.scalars(select(Person.display_name)).all())
        return (
            sync_version(session, "people"),
            int(session.scalar(select(func.count()).select_from(Person)) or 0),
            int(session.scalar(select(func.count()).select_from(Card)) or 0),
            int(session.scalar(select(func.count()).select_from(FaceTemplate)) or 0),
            {str(name).split()[0] for name in names},
        )


@pytest.mark.slow
def test_ten_thousand_people_apply_atomically_and_survive_a_crash(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    store, door_id = make_store(store_dir)
    outcome = apply_people_delta(
        store, people_delta(COUNT, 1, "old"), MODEL_ID, door_id, datetime.now(UTC)
    )
    assert (outcome.version, outcome.upserted) == (1, COUNT)
    before = snapshot(store)
    assert before == (1, COUNT, COUNT, COUNT, {"old"})
    store.close()

    delta_file = tmp_path / "delta2.json"
    delta_file.write_text(json.dumps(people_delta(COUNT, 2, "new")))
    crashed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.station.people_delta",
            str(store_dir),
            str(delta_file),
            str(COUNT // 2),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
        timeout=300,
    )
    assert crashed.returncode == -9
    store, door_id = make_store(store_dir)
    try:
        assert snapshot(store) == before  # nothing of the half-applied delta is visible
        apply_people_delta(
            store, json.loads(delta_file.read_text()), MODEL_ID, door_id, datetime.now(UTC)
        )
        assert snapshot(store) == (2, COUNT, COUNT, COUNT, {"new"})
    finally:
        store.close()


def test_templates_of_another_model_refuse_the_whole_delta(
    store_and_door: tuple[Store, int],
) -> None:
    store, door_id = store_and_door
    delta = people_delta(3, 1, "x")
    delta["upserts"][2]["model_id"] = "other-model"
    with pytest.raises(SyncRefused) as refused:
        apply_people_delta(store, delta, MODEL_ID, door_id, datetime.now(UTC))
    assert refused.value.code == "model_mismatch"
    assert snapshot(store)[:2] == (0, 0)


def test_a_template_without_consent_refuses_the_whole_delta(
    store_and_door: tuple[Store, int],
) -> None:
    store, door_id = store_and_door
    delta = people_delta(3, 1, "x")
    del delta["upserts"][1]["consent"]
    with pytest.raises(SyncRefused) as refused:
        apply_people_delta(store, delta, MODEL_ID, door_id, datetime.now(UTC))
    assert refused.value.code == "credential_policy"
    assert snapshot(store)[:2] == (0, 0)
