"""A gateway killed with -9 while writing and publishing resumes from its outbox: nothing lost,
a duplicate only ever repeats an id, and live delivery stays in sequence order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from gateway.station.station_client import StationClient
from gateway.store.events import count_pending
from gateway.store.schema_events import OutboxCounter
from tests.station.broker import GATEWAY, MosquittoBroker
from tests.station.conftest import REPO, gateway_config, make_store, wait_until
from tests.station.test_delivery import StationView


def start_gateway(
    store_dir: Path, broker: MosquittoBroker, folder: Path, write: bool
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.station.publisher_proc",
            str(store_dir),
            str(broker.port),
            str(broker.ca),
            str(folder),
            "1" if write else "0",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"started"
    return process


def test_gateway_killed_while_publishing_loses_nothing(
    broker: MosquittoBroker, station: StationClient, tmp_path: Path
) -> None:
    store_dir, folder = tmp_path / "store", tmp_path / "gw"
    gateway_config(broker, folder, None)  # writes the password file
    make_store(store_dir)[0].close()  # migrate once, before the gateway process starts
    view = StationView(station)
    gateway = start_gateway(store_dir, broker, folder, write=True)
    try:
        view.until_distinct(1500)
    finally:
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(30)
    store, _door = make_store(store_dir)
    with store.sessions.reading() as session:
        last = session.scalar(
            select(OutboxCounter.last_seq).where(OutboxCounter.gateway_id == GATEWAY)
        )
    assert last is not None and last >= 1500
    restarted = start_gateway(store_dir, broker, folder, write=False)
    try:
        view.until_distinct(last)
        wait_until(lambda: _pending(store) == 0, timeout=60, what="outbox drained after restart")
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(30)
        store.close()
    assert view.missing(last) == set()
    assert view.live_order == sorted(view.live_order)


def _pending(store) -> int:  # type: ignore[no-untyped-def]
    with store.sessions.reading() as session:
        return count_pending(session, GATEWAY)
