"""kill -9 in a loop: a writer is SIGKILLed mid-write again and again; every event whose commit
returned is still there, each event still has its outbox row, and the file passes
PRAGMA integrity_check (synchronous=FULL, WAL)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.store.migrate import integrity_problems
from gateway.store.schema_events import AccessEvent, OutboxMessage
from gateway.store.store import Store
from tests.store.conftest import REPO_ROOT, build_world

ROUNDS = 12


def run_and_kill(url: str, key_file: Path, door_id: int, rng: random.Random) -> list[str]:
    """Start a writer, let it commit for a random while, SIGKILL it; returns the ids it reported."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_writer", url, str(key_file), str(door_id)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    first = writer.stdout.readline()  # wait until it is writing
    assert first, writer.stderr.read() if writer.stderr else "writer died"
    time.sleep(rng.uniform(0.0, 0.4))
    os.kill(writer.pid, signal.SIGKILL)
    rest, _ = writer.communicate(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    return [first.strip(), *(line for line in rest.splitlines() if line.strip())]


@pytest.mark.slow
def test_no_committed_event_is_lost_under_sigkill(sqlite_store: Store, key_file: Path) -> None:
    world = build_world(sqlite_store)
    url = sqlite_store.engine.url.render_as_string(hide_password=False)
    sqlite_store.close()
    rng = random.Random(4)
    reported: list[str] = []
    for _round in range(ROUNDS):
        reported += run_and_kill(url, key_file, world.door_id, rng)
    with sqlite_store.sessions.reading() as session:
        stored = {str(i) for i in session.scalars(select(AccessEvent.id))}
        events = session.scalar(select(func.count()).select_from(AccessEvent))
        seqs = list(session.scalars(select(OutboxMessage.seq).order_by(OutboxMessage.seq)))
    missing = [i for i in reported if str(uuid.UUID(i)) not in stored]
    print(f"\n{ROUNDS} kills, {len(reported)} committed events reported, {events} stored")
    assert missing == []
    assert len(reported) >= ROUNDS
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == events  # event+outbox atomic
    assert integrity_problems(sqlite_store.engine) == []
