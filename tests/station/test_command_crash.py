"""Commands survive kill -9 of the gateway (issue 12.5): every command gets exactly one result.

The gateway used to acknowledge a command to the broker as soon as paho handed it over, before
anything was committed; a kill -9 then lost it for good (475 of 861 opens without a result). Here
a real gateway process is killed with SIGKILL again and again, at random moments shortly after it
connected, while a station publishes signed opens at a steady rate. After the last restart every
command must have exactly one result (its own, or `replayed` for one that was re-delivered after
a crash in the middle of running it), and no open may have run twice.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.station.keys import public_key_b64
from gateway.station.station_client import Received, StationClient
from tests.station.broker import GATEWAY, SITE, MosquittoBroker
from tests.station.command_proc import JOURNAL
from tests.station.conftest import REPO, collect, gateway_config, make_store, validate_received

pytestmark = pytest.mark.slow
ROUNDS = 8
OPENS = 240


def start_gateway(
    store_dir: Path, broker: MosquittoBroker, folder: Path, key: Ed25519PrivateKey
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.station.command_proc",
            str(store_dir),
            str(broker.port),
            str(broker.ca),
            str(folder),
            public_key_b64(key),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=(folder / "gateway.log").open("ab"),
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"started"
    return process


def wait_connected(process: subprocess.Popen[bytes]) -> None:
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"connected"


class Results:
    """cmd_result bodies per command id, de-duplicated on the envelope id (a re-send)."""

    def __init__(self) -> None:
        self.by_command: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self._read = 0

    def absorb(self, messages: list[Received]) -> None:
        while self._read < len(messages):
            message = messages[self._read]
            self._read += 1
            if "/cmd_result/" in message.topic:
                envelope = validate_received(message)
                body = envelope["body"]
                self.by_command[body["command_id"]][envelope["id"]] = body


def test_kill9_loop_every_command_gets_exactly_one_result(
    broker: MosquittoBroker, station: StationClient, tmp_path: Path
) -> None:
    store_dir, folder = tmp_path / "store", tmp_path / "gw"
    key = Ed25519PrivateKey.generate()
    gateway_config(broker, folder, key)  # writes the password file
    make_store(store_dir)[0].close()  # migrate once, before the gateway process starts
    sent: list[str] = []
    publishing = threading.Event()

    def publish() -> None:  # a station sending opens at a steady rate, crash or not
        for _ in range(OPENS):
            envelope = station.send_command(
                key,
                site=SITE,
                gateway=GATEWAY,
                name="open",
                args={},
                issued_by="station:kill-loop",
                lifetime=timedelta(seconds=590),
            )
            sent.append(envelope["command"]["id"])
            time.sleep(0.02)
        publishing.set()

    rng = random.Random(12)
    gateway = start_gateway(store_dir, broker, folder, key)
    wait_connected(gateway)  # its persistent session exists from now on: commands wait there
    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    kills = 0
    try:
        while kills < ROUNDS or not publishing.is_set():
            time.sleep(rng.uniform(0.0, 0.6))  # 0 .. 0.6 s after connecting: mid-stream
            gateway.send_signal(signal.SIGKILL)
            gateway.wait(30)
            kills += 1
            gateway = start_gateway(store_dir, broker, folder, key)
            wait_connected(gateway)
        publisher.join(60)
        results = Results()
        messages: list[Received] = []

        def all_answered(got: list[Received]) -> bool:
            results.absorb(got)
            return len(sent) == OPENS and all(cid in results.by_command for cid in sent)

        with contextlib.suppress(AssertionError):  # the counts below say what is missing
            collect(station, all_answered, timeout=120, into=messages)
        time.sleep(3)  # a second result for any command would have arrived by now
        while not station.received.empty():
            messages.append(station.received.get_nowait())
        results.absorb(messages)
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(30)
    counts = {cid: len(results.by_command.get(cid, {})) for cid in sent}
    answered = sum(1 for count in counts.values() if count >= 1)
    print(f"kill loop: {kills} kills, {answered} of {len(sent)} commands answered")
    print("unanswered:", [(index, cid) for index, cid in enumerate(sent) if not counts[cid]])
    assert answered == len(sent)
    assert {cid for cid, count in counts.items() if count > 1} == set()
    opened = (folder / JOURNAL).read_text().split()
    assert len(opened) == len(set(opened)), "an open ran twice"
    outcomes = [next(iter(results.by_command[cid].values())) for cid in sent]
    for body in outcomes:
        assert body["ok"] or body["error"] == "replayed", body
    ok = {body["command_id"] for body in outcomes if body["ok"]}
    assert ok <= set(opened) <= set(sent)  # an ok result always means the open ran (once)
    print(f"{len(ok)} ok, {len(sent) - len(ok)} replayed, {len(set(opened) - ok)} ran unanswered")
