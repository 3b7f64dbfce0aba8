"""Volume: 50,000 events keep the decision-path queries on their indexes (query plans, not
wall clocks), and 100,000 pending outbox rows go in by batches and are read by the partial index.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert, text

from gateway.store.base import Method, Verdict
from gateway.store.events import (
    count_pending,
    enqueue_many,
    pending_messages,
    pending_query,
    recent_denials_query,
    recent_door_events_query,
)
from gateway.store.places import add_door
from gateway.store.schema_events import AccessEvent
from gateway.store.schema_people import Door
from gateway.store.store import Store
from gateway.store.uuid7 import uuid7
from tests.store.conftest import T0, World
from tests.store.plans import explain

EVENTS = 50_000
PENDING = 100_000


def analyse(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def insert_events(store: Store, world: World) -> list[int]:
    with store.sessions.writing() as session:
        building = session.get(Door, world.door_id)
        assert building is not None
        doors = [world.door_id, world.side_door_id, world.other_door_id] + [
            add_door(session, building.building_id, f"extra-{i}", "gw-1", f"门{i}").id
            for i in range(17)
        ]
    people = [world.owner_id, world.tenant_id, world.staff_id, None]
    start = T0 - timedelta(seconds=EVENTS * 100)  # ~58 days of traffic, up to T0
    rows = []
    for i in range(EVENTS):
        at = start + timedelta(seconds=i * 100)
        rows.append(
            {
                "id": uuid7(int(at.timestamp() * 1000)),
                "occurred_at": at,
                "door_id": doors[i % len(doors)],
                "method": Method.FACE if i % 3 else Method.CARD,
                "person_id": people[i % len(people)],
                "verdict": Verdict.GRANT if i % 5 else Verdict.DENY,
                "reason_code": "ok" if i % 5 else "no_match",
                "score": 0.5,
            }
        )
    for chunk in range(0, EVENTS, 10_000):
        with store.sessions.writing() as session:
            session.execute(insert(AccessEvent), rows[chunk : chunk + 10_000])
    analyse(store.engine)
    return doors


@pytest.mark.slow
def test_decision_queries_use_indexes_with_50k_events(store: Store, world: World) -> None:
    insert_events(store, world)
    since = T0 - timedelta(minutes=10)
    door_plan = explain(store.engine, recent_door_events_query(world.door_id, since, 20))
    denial_plan = explain(store.engine, recent_denials_query(world.owner_id, since))
    print(f"\n{store.engine.dialect.name} door plan: {door_plan}\ndenial plan: {denial_plan}")
    if store.engine.dialect.name == "sqlite":
        assert "USING INDEX ix_access_event_door_id_occurred_at" in door_plan, door_plan
        assert "USING COVERING INDEX ix_access_event_person_id_occurred_at" in denial_plan or (
            "USING INDEX ix_access_event_person_id_occurred_at" in denial_plan
        ), denial_plan
    else:  # the planner picks among the event indexes by cost; it must not scan the table
        for plan in (door_plan, denial_plan):
            assert '"Index Name": "ix_access_event_' in plan, plan
            assert '"Seq Scan"' not in plan, plan


@pytest.mark.slow
def test_100k_pending_outbox_rows_in_batches(store: Store) -> None:
    started = time.perf_counter()
    for batch in range(20):
        with store.sessions.writing() as session:
            seqs = enqueue_many(
                session,
                "gw-1",
                "access_event",
                ({"n": batch * 5000 + i, "door": "b3-main"} for i in range(5000)),
                T0,
            )
            assert seqs == range(batch * 5000 + 1, batch * 5000 + 5001)
    elapsed = time.perf_counter() - started
    print(f"\n{store.engine.dialect.name}: {PENDING} outbox rows in {elapsed:.1f} s")
    assert elapsed < 90  # generous: a stuck lock or row-by-row commits would blow far past it
    analyse(store.engine)
    with store.sessions.reading() as session:
        assert count_pending(session, "gw-1") == PENDING
        head = pending_messages(session, "gw-1", limit=100)
    assert [m.seq for m in head] == list(range(1, 101))
    plan = explain(store.engine, pending_query("gw-1", 100))
    assert "ix_outbox_pending" in plan, plan
