"""The store's two lanes on SQLite: the door's writes go first and never wait for a connection.

Staff-page writers (six threads, each holding its transaction a while, as a slow web request
would) keep the write lock busy all the time; a door writer asking in the middle of that gets the
next turn: at most the one staff transaction already under way commits before it, whatever the
queue behind. And with every connection of the staff lane's pool taken, the door still writes.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gateway.store.alerts_audit import append_audit
from gateway.store.schema_events import AuditEntry
from gateway.store.store import Store
from gateway.store.write_gate import NestedWrite, WriteLane

STAFF_WRITERS = 6
DOOR_WRITES = 10


def _audit(session: Session, actor: str) -> None:
    append_audit(
        session,
        actor=actor,
        action="lane-test",
        target="-",
        occurred_at=datetime.now(UTC),
    )


def test_a_door_write_waits_for_at_most_the_staff_transaction_under_way(
    sqlite_store: Store,
) -> None:
    staff = sqlite_store.for_staff_page().sessions
    door = sqlite_store.sessions
    turns: list[str] = []  # who held the write turn, in order
    stop = threading.Event()
    errors: list[BaseException] = []

    def staff_writer(index: int) -> None:
        try:
            while not stop.is_set():
                with staff.writing() as session:
                    turns.append("staff")
                    _audit(session, f"staff-{index}")
                    time.sleep(0.03)  # a slow request holding its transaction
        except BaseException as error:  # reported below
            errors.append(error)

    writers = [threading.Thread(target=staff_writer, args=(i,)) for i in range(STAFF_WRITERS)]
    for writer in writers:
        writer.start()
    overtaken: list[int] = []
    try:
        while turns.count("staff") < 3 * STAFF_WRITERS:  # the queue is full and moving
            time.sleep(0.01)
        for _ in range(DOOR_WRITES):
            asked = len(turns)
            with door.writing() as session:
                overtaken.append(len(turns) - asked)
                turns.append("door")
                _audit(session, "door")
            time.sleep(0.05)
    finally:
        stop.set()
        for writer in writers:
            writer.join(30)
    assert not errors, errors
    # the turn may pass once between reading len(turns) and queueing: never more
    assert max(overtaken) <= 1, overtaken
    with sqlite_store.sessions.reading() as session:
        actors = session.scalars(select(AuditEntry.actor)).all()
    assert actors.count("door") == DOOR_WRITES
    assert len(actors) == len(turns)  # every turn committed its row
    stats = sqlite_store.lanes.door.gate
    assert stats is not None and stats.stats[WriteLane.STAFF].turns >= 3 * STAFF_WRITERS


def test_the_door_writes_while_the_staff_pool_is_exhausted(sqlite_store: Store) -> None:
    staff = sqlite_store.for_staff_page().sessions
    hold = threading.Event()
    holding = threading.Semaphore(0)
    pool_size = staff.engine.pool.size() + staff.engine.pool._max_overflow  # type: ignore[attr-defined]

    def reader() -> None:
        with staff.reading() as session:
            session.execute(text("SELECT 1"))
            holding.release()
            hold.wait(30)

    readers = [threading.Thread(target=reader) for _ in range(pool_size)]
    for thread in readers:
        thread.start()
    try:
        for _ in readers:
            assert holding.acquire(timeout=30)
        begin = time.monotonic()
        with sqlite_store.sessions.writing() as session:
            _audit(session, "door")
        assert time.monotonic() - begin < sqlite_store.config.busy_timeout_ms / 1000
    finally:
        hold.set()
        for thread in readers:
            thread.join(30)


def test_a_nested_write_on_one_thread_is_refused_instead_of_waiting_for_itself(
    sqlite_store: Store,
) -> None:
    staff = sqlite_store.for_staff_page().sessions
    with sqlite_store.sessions.writing(), pytest.raises(NestedWrite), staff.writing():
        pass
    with sqlite_store.sessions.writing() as session:  # the turn was given back
        _audit(session, "after")
