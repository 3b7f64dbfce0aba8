"""Junk on the command topics cannot exhaust memory or starve a signed command (issue 12.8).

What was done from outside: 40 MB payloads (parsed: +150 MB), deeply nested JSON (RecursionError,
no result), then 1,500 junk messages that filled the command queue, so a valid signed open got no
result for minutes, while every refusal became an outbox row. Here the same is sent through the
real broker to a real gateway process; the valid open must get its result promptly, the process's
peak memory must stay bounded, and the refusal rows written must stay within the rate limit.
"""

from __future__ import annotations

import json
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from gateway.station.keys import make_command, sign_command
from gateway.station.station_client import Received, StationClient
from gateway.station.topics import Topics
from gateway.store.schema_events import OutboxMessage
from tests.station.broker import GATEWAY, PREFIX, SITE, MosquittoBroker
from tests.station.command_proc import JOURNAL
from tests.station.conftest import collect, gateway_config, make_store, now_utc, validate_received
from tests.station.test_command_crash import start_gateway, wait_connected

pytestmark = pytest.mark.slow
MB = 1024 * 1024
JUNK = 1500


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def junk(index: int, key: Ed25519PrivateKey) -> bytes:
    kind = index % 4
    if kind == 0:
        return b"not json at all %d" % index
    command = make_command(
        name="open", site=SITE, gateway=GATEWAY, args={}, issued_by="station", now=now_utc()
    )
    if kind == 1:
        return json.dumps({"command": command}).encode()  # unsigned
    envelope = sign_command(key, command)
    if kind == 2:
        envelope["command"]["issued_by"] = "resident:R-0001"  # tampered: bad signature
        return json.dumps(envelope).encode()
    return json.dumps({"command": command, "signature": "A" * 88}).encode()


def test_floods_and_huge_payloads_neither_exhaust_memory_nor_starve_a_signed_open(
    broker: MosquittoBroker, station: StationClient, tmp_path: Path
) -> None:
    store_dir, folder = tmp_path / "store", tmp_path / "gw"
    key = Ed25519PrivateKey.generate()
    gateway_config(broker, folder, key)  # writes the password file
    make_store(store_dir)[0].close()
    topics = Topics(PREFIX, SITE, GATEWAY)
    gateway = start_gateway(store_dir, broker, folder, key)
    try:
        wait_connected(gateway)
        time.sleep(1.0)  # let the process settle before its baseline
        baseline = peak_rss_mb(gateway.pid)
        huge = b'{"command": {"x": "' + b"y" * (40 * MB) + b'"}}'
        for topic in ("open", "open", "sync_people", "sync_watchlist"):
            station.publish_raw(topics.command(topic), huge, timeout=120)
        # 10 MB is within what the broker may send a gateway, but not what an open may hold
        station.publish_raw(topics.command("open"), b"[" * (10 * MB), timeout=120)
        deep = b'{"command": ' + b"[" * 30000 + b"]" * 30000 + b"}"
        station.publish_raw(topics.command("open"), deep)
        station.publish_raw(topics.command("sync_people"), b"[" * 200_000)
        started = time.monotonic()
        for index in range(JUNK):
            station.publish_raw(topics.command("open"), junk(index, key))
        valid = station.send_command(
            key,
            site=SITE,
            gateway=GATEWAY,
            name="open",
            args={},
            issued_by="station:flood-test",
            lifetime=timedelta(seconds=300),
        )
        valid_id = valid["command"]["id"]
        sent_valid = time.monotonic()
        results: dict[str | None, Any] = {}

        def answered(messages: list[Received]) -> bool:
            while messages:
                message = messages.pop(0)
                if "/cmd_result/" in message.topic:
                    body = validate_received(message)["body"]
                    results.setdefault(body["command_id"], body)
            return valid_id in results

        collect(station, answered, timeout=120)
        latency = time.monotonic() - sent_valid
        elapsed = time.monotonic() - started
        peak = peak_rss_mb(gateway.pid)
    finally:
        gateway.send_signal(signal.SIGKILL)
        gateway.wait(30)
    print(
        f"flood: valid open answered {latency:.2f} s after {JUNK} junk; peak RSS "
        f"{baseline:.0f} -> {peak:.0f} MB"
    )
    assert results[valid_id]["ok"], results[valid_id]
    assert (folder / JOURNAL).read_text().split() == [valid_id]  # the one open that ran
    assert peak - baseline < 100, f"peak RSS grew {peak - baseline:.0f} MB"
    store, _door = make_store(store_dir)
    try:
        with store.sessions.reading() as session:
            bodies = list(
                session.scalars(
                    select(OutboxMessage.payload).where(OutboxMessage.topic == "command_result")
                )
            )
    finally:
        store.close()
    unauthenticated = [body for body in bodies if body.get("authenticated") is False]
    errors = {body["error"] for body in unauthenticated}
    assert {"malformed", "too_large"} <= errors
    assert any("nested" in body["message"] for body in unauthenticated)  # answered, not a crash
    # the bucket holds 60 and refills at 1/s: the flood wrote at most that many rows
    assert len(unauthenticated) <= 60 + elapsed + 5, len(unauthenticated)
