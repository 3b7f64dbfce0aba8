"""`menwei bench-call`: visitor-call latency of the running service over a real broker.

It runs the real AccessService (store, models, camera, sim door, station link) against a
throw-away mosquitto (TLS, password, ACL) with one resident's unit, and a station client. Each
round a visitor keys `# # unit #` on the simulated Wiegand keypad and the station answers with a
signed `answer_call` accept. Two figures, p50/p95 over the rounds, with the load average:

* call key -> event at the broker: from the call key (`#`) entering the reader to the station
  client holding the `placed` visitor_call message (it includes the reader's 25 ms frame gap,
  the snapshot's JPEG encoding, the event commit and the outbox drain);
* accept -> relay: from the station publishing the signed accept to the relay energising
  (signature and nonce checks, the resident check, the grant commit, the door thread).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.bench.scratch import scratch_store
from gateway.bench.stats import percentiles
from gateway.config import GatewayConfig, parse_config
from gateway.station.keys import public_key_b64
from gateway.station.local_broker import LocalBroker
from gateway.station.mqtt_client import BrokerAccess
from gateway.station.station_client import StationClient

SITE, GATEWAY, PREFIX, ROOM = "bench-site", "gw-bench", "menwei/v1", "1201"
USERS = {GATEWAY: "bench-gw", "station": "bench-station"}
ACL = (
    f"user {GATEWAY}\ntopic readwrite {PREFIX}/{SITE}/{GATEWAY}/#\n\n"
    f"user station\ntopic readwrite {PREFIX}/#\n"
)
KEY_GAP_S = 0.04  # one Wiegand frame per key: 4 bits plus the 25 ms frame gap


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench-call", help="visitor call: call key -> broker, accept -> relay"
    )
    parser.add_argument("--calls", type=int, default=30, help="rounds (call, then accept)")
    parser.add_argument("--models", type=Path, help="models folder (default: config default)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.set_defaults(func=_run)


def _config(
    workdir: Path, broker: LocalBroker, key: Ed25519PrivateKey, models: Path | None
) -> GatewayConfig:
    camera = workdir / "camera"
    camera.mkdir()
    cv2.imwrite(str(camera / "door.jpg"), np.full((480, 640, 3), 90, np.uint8))
    (workdir / "gw.password").write_text(USERS[GATEWAY])
    data: dict[str, Any] = {
        "site": {"id": SITE, "gateway_id": GATEWAY},
        "store": scratch_store(workdir),
        "camera": {"source": str(camera), "kind": "folder", "paced": True, "loop": True},
        "door": {"backend": "sim"},
        "access": {
            "keypad": {"max_keys_per_second": 100.0},
            "visitor_call": {"door_max_calls": 1000, "unit_max_calls": 1000, "scan_units": 1000},
        },
        "station": {
            "enabled": True,
            "host": "127.0.0.1",
            "port": broker.port,
            "topic_prefix": PREFIX,
            "ca_file": str(broker.ca),
            "username": GATEWAY,
            "password_file": str(workdir / "gw.password"),
            "station_public_key": public_key_b64(key),
            "nonce_db": str(workdir / "nonces.db"),
        },
    }
    if models is not None:
        data["models"] = {"dir": str(models)}
    return parse_config(data)


def _add_resident(config: GatewayConfig) -> None:
    from gateway.runtime.bootstrap import ensure_door
    from gateway.store.base import Role
    from gateway.store.people import add_person
    from gateway.store.places import add_unit
    from gateway.store.schema_people import Door
    from gateway.store.store import open_store

    store = open_store(config.store)
    try:
        with store.sessions.writing() as session:
            door = session.get(Door, ensure_door(session, config.site))
            assert door is not None
            unit = add_unit(session, door.building_id, "1", ROOM)
            add_person(
                session,
                external_id="R-1201",
                display_name="resident",
                role=Role.OWNER,
                unit_id=unit.id,
                valid_from=datetime.now(UTC) - timedelta(days=1),
            )
    finally:
        store.close()


def _next_call(station: StationClient, timeout: float = 30.0) -> tuple[dict[str, Any], float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = station.received.get(timeout=0.5)
        except queue.Empty:
            continue
        received_at = time.monotonic()
        if message.topic.endswith("/events/visitor_call"):
            body = message.json()["body"]
            if body["outcome"] == "placed":
                return body, received_at
    raise TimeoutError("no visitor_call event at the broker")


def measure_call_latency(calls: int, models: Path | None, workdir: Path) -> dict[str, Any]:
    from firmware_bridge.backends.sim import SimDoorIO
    from firmware_bridge.wiegand import encode_key
    from gateway.runtime.service import AccessService

    key = Ed25519PrivateKey.generate()
    broker = LocalBroker(workdir / "broker", USERS, ACL)
    broker.start()
    to_broker: list[float] = []
    to_relay: list[float] = []
    try:
        config = _config(workdir, broker, key, models)
        _add_resident(config)
        access = BrokerAccess(
            "127.0.0.1",
            broker.port,
            ca_file=broker.ca,
            username="station",
            password=USERS["station"],
        )
        station = StationClient(access, "bench-call-station", PREFIX, clean_start=True)
        station.start()
        io = SimDoorIO(config.door)
        try:
            with AccessService(config, door_io=io) as service:
                assert service.station is not None and service.station.wait_connected(30)
                for _ in range(calls):
                    for digit in f"##{ROOM}":
                        io.present_wiegand(encode_key(digit))
                        time.sleep(KEY_GAP_S)
                    pressed = time.monotonic()
                    io.present_wiegand(encode_key("#"))
                    body, received_at = _next_call(station)
                    to_broker.append((received_at - pressed) * 1000)
                    releases = sum(1 for _, energised in io.relay_history if energised)
                    sent = time.monotonic()
                    station.send_command(
                        key,
                        site=SITE,
                        gateway=GATEWAY,
                        name="answer_call",
                        args={"call_id": body["call_id"], "answer": "accept"},
                        issued_by="resident:R-1201",
                    )
                    while sum(1 for _, on in io.relay_history if on) == releases:
                        if time.monotonic() - sent > 30:
                            raise TimeoutError("the accept did not release the door")
                        time.sleep(0.0005)
                    opened_ns = next(t for t, on in reversed(io.relay_history) if on)
                    to_relay.append(max(0.0, opened_ns / 1e6 - sent * 1000))
                    while io.relay_energised:  # relocked before the next visitor
                        time.sleep(0.05)
        finally:
            station.stop()
    finally:
        broker.stop()
    return {
        "calls": calls,
        "call_key_to_broker_ms": percentiles(to_broker),
        "accept_to_relay_ms": percentiles(to_relay),
        "load_average_1min": os.getloadavg()[0],
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(),
    }


def _run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="menwei-bench-call-") as tmp:
        report = measure_call_latency(args.calls, args.models, Path(tmp))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, label in (
        ("call_key_to_broker_ms", "call key -> visitor_call at the broker"),
        ("accept_to_relay_ms", "signed accept published -> relay energised"),
    ):
        row = report[name]
        print(f"{label}: p50 {row['p50']:.0f} ms, p95 {row['p95']:.0f} ms (n={row['n']})")
    print(f"load average {report['load_average_1min']:.2f} on {report['cpus']} CPUs")
    return 0
