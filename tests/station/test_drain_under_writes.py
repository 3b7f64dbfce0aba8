"""Issue 12 item 9: the outbox drain and remote opens keep going while others write.

A real mosquitto and a real SQLite store. A 10,000-row backlog drains first with nobody else
writing (the baseline); a second one drains while 40 other write transactions a second come from
the staff page's lane, each holding the lock 20 ms like a slow SD card, and signed remote opens
arrive. Before the fix the loaded drain took 4 to 10 times the baseline (~140-350 rows/s) and
remote opens could fail with "database is locked"; now it stays within a generous factor of the
baseline, every open is committed and answered, and the competing writer is not starved either.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.application.remote_open import OpenOutcome, RemoteOpen
from gateway.station.bench_writers import StaffLaneWriter, WriteLoad
from gateway.station.commands import StationCallbacks
from gateway.station.link import StationLink
from gateway.station.station_client import Received, StationClient
from gateway.station.topics import Topics
from gateway.store.base import Method, Verdict
from gateway.store.events import record_access_event
from gateway.store.store import Store
from tests.station.broker import GATEWAY, PREFIX, SITE, MosquittoBroker
from tests.station.conftest import MODEL_ID, collect, gateway_config, wait_until
from tests.station.events import bulk_access_events

BACKLOG = 10_000
OPENS = 8
SLOWDOWN_BOUND = 2.0  # loaded / baseline drain time
TOPICS = Topics(PREFIX, SITE, GATEWAY)


def test_drain_and_remote_opens_keep_going_under_forty_writes_a_second(
    broker: MosquittoBroker,
    station: StationClient,
    store_and_door: tuple[Store, int],
    station_key: Ed25519PrivateKey,
    tmp_path: Path,
) -> None:
    store, door_id = store_and_door
    opened: list[str] = []

    def on_remote_open(request: RemoteOpen) -> OpenOutcome:
        with store.sessions.writing() as session:  # what AccessPolicy.remote commits
            event, _ = record_access_event(
                session,
                gateway_id=GATEWAY,
                door_id=door_id,
                method=Method.REMOTE,
                verdict=Verdict.GRANT,
                reason_code="station_open",
                occurred_at=datetime.now(UTC),
            )
        opened.append(request.command_id)
        return OpenOutcome(True, "station_open", str(event.id))

    link = StationLink(
        gateway_config(broker, tmp_path / "gw", station_key),
        store,
        site_id=SITE,
        gateway_id=GATEWAY,
        door_id=door_id,
        model_id=MODEL_ID,
        callbacks=StationCallbacks(on_remote_open=on_remote_open),
    )
    link.start()
    ids: list[str] = []
    try:
        assert link.wait_connected(30)
        baseline_s = _drain(link, bulk_access_events(store, BACKLOG))
        backlog = bulk_access_events(store, BACKLOG)
        writer = StaffLaneWriter(store, WriteLoad(per_s=40.0, hold_s=0.02))
        writer.start()
        try:
            for _ in range(OPENS):
                envelope = station.send_command(
                    station_key,
                    site=SITE,
                    gateway=GATEWAY,
                    name="open",
                    args={},
                    issued_by="station:test",
                )
                ids.append(envelope["command"]["id"])
            loaded_s = _drain(link, backlog, timeout=SLOWDOWN_BOUND * baseline_s + 30)
            answers = _results(station, set(ids))
        finally:
            load = writer.stop()
    finally:
        link.stop()
    print(
        f"{BACKLOG} rows drained in {baseline_s:.1f} s alone, {loaded_s:.1f} s under load; "
        f"competing writer {load}"
    )
    assert loaded_s < SLOWDOWN_BOUND * baseline_s + 2.0
    assert sorted(opened) == sorted(ids)  # every open reached the door and was committed
    assert all(answers[i]["ok"] and answers[i]["error"] is None for i in ids), answers
    assert load.failures == 0 and load.per_s > 10.0, load


def _drain(link: StationLink, rows: range, timeout: float = 120.0) -> float:
    """Time until the link marked all of the queued `rows` delivered."""
    begin = time.monotonic()
    link.notify()
    wait_until(lambda: link.drain.delivered_up_to >= rows[-1], timeout=timeout, what="drained")
    return time.monotonic() - begin


def _results(station: StationClient, ids: set[str]) -> dict[str, Any]:
    """The `open` results for `ids`, from everything the station received."""
    answers: dict[str, Any] = {}

    def note(got: list[Received]) -> bool:
        while got:
            message = got.pop()
            if message.topic == TOPICS.result("open"):
                body = message.json()["body"]
                answers[body["command_id"]] = body
        return ids <= answers.keys()

    collect(station, note, timeout=60.0)
    return answers
