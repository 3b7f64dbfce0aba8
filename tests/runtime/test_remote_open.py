"""A signed remote open from the station, end to end: broker -> link -> policy -> store -> door."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.station.station_client import StationClient
from gateway.store.base import Method
from tests.runtime.conftest import Running, empty_camera, make_config
from tests.station.broker import GATEWAY, SITE, MosquittoBroker
from tests.station.conftest import gateway_config

RunService = Callable[..., Running]


def test_signed_open_releases_the_door_and_an_expired_one_does_not(
    tmp_path: Path,
    models_mirror: Path,
    broker: MosquittoBroker,
    station: StationClient,
    run_service: RunService,
) -> None:
    camera = empty_camera(tmp_path / "cam")
    key = Ed25519PrivateKey.generate()
    link = gateway_config(broker, tmp_path / "link", key).model_dump(mode="json")
    config = make_config(
        tmp_path, models_mirror, camera, station=link, site={"id": SITE, "gateway_id": GATEWAY}
    )
    running = run_service(config)
    assert running.service.station is not None
    assert running.service.station.wait_connected(30)

    station.send_command(
        key,
        site=SITE,
        gateway=GATEWAY,
        name="open",
        args={},
        issued_by="station-operator",
        now=datetime.now(UTC) - timedelta(minutes=5),
        lifetime=timedelta(seconds=30),
    )  # expired before it was sent
    station.send_command(
        Ed25519PrivateKey.generate(),
        site=SITE,
        gateway=GATEWAY,
        name="open",
        args={},
        issued_by="forger",
    )  # wrong key
    running.wait_for(lambda: False, timeout=2)
    assert not running.io.relay_energised
    assert not any(d.method is Method.REMOTE for d in running.decisions)

    station.send_command(
        key, site=SITE, gateway=GATEWAY, name="open", args={}, issued_by="station-operator"
    )
    assert running.wait_for(
        lambda: any(d.method is Method.REMOTE and d.granted for d in running.decisions), timeout=30
    )
    assert running.wait_for(lambda: running.io.relay_energised, timeout=5)


def test_telemetry_carries_the_runtime_figures(
    tmp_path: Path,
    models_mirror: Path,
    broker: MosquittoBroker,
    station: StationClient,
    run_service: RunService,
) -> None:
    from tests.station.conftest import collect, validate_received

    camera = empty_camera(tmp_path / "cam")
    link = gateway_config(broker, tmp_path / "link", Ed25519PrivateKey.generate())
    config = make_config(
        tmp_path,
        models_mirror,
        camera,
        station=link.model_dump(mode="json"),
        site={"id": SITE, "gateway_id": GATEWAY},
    )
    run_service(config)
    got = collect(
        station, lambda messages: any(m.topic.endswith("/telemetry") for m in messages), timeout=30
    )
    telemetry = next(m for m in got if m.topic.endswith("/telemetry"))
    payload = validate_received(telemetry)
    runtime = payload["runtime"]
    assert {
        "fps",
        "decision_latency_p95_ms",
        "dropped_frames",
        "outbox_depth",
        "disk_free_bytes",
    } <= set(runtime)
    assert runtime["disk_free_bytes"] > 0
