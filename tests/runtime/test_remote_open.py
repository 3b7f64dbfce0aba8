"""A signed remote open from the station, end to end: broker -> link -> policy -> store -> door."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.config import GatewayConfig
from gateway.runtime.bootstrap import ensure_door
from gateway.station.station_client import Received, StationClient
from gateway.store.base import Method, Role
from gateway.store.people import add_person
from gateway.store.places import add_unit
from gateway.store.schema_people import Door
from gateway.store.store import open_store
from tests.runtime.conftest import Running, empty_camera, make_config
from tests.station.broker import GATEWAY, SITE, MosquittoBroker
from tests.station.conftest import collect, gateway_config, validate_received

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
        issued_by="station:operator",
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
        key, site=SITE, gateway=GATEWAY, name="open", args={}, issued_by="station:operator"
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


def _add_resident(config: GatewayConfig, external_id: str, *, active: bool) -> None:
    """A resident of this door's building, as the staff page or a people sync would store it."""
    store = open_store(config.store)
    try:
        with store.sessions.writing() as session:
            door = session.get(Door, ensure_door(session, config.site))
            assert door is not None
            unit = add_unit(session, door.building_id, "1", f"{external_id}-101")
            add_person(
                session,
                external_id=external_id,
                display_name=external_id,
                role=Role.OWNER,
                unit_id=unit.id,
                valid_from=datetime.now(UTC) - timedelta(days=1),
                active=active,
            )
    finally:
        store.close()


def _results(station: StationClient, ids: set[str], timeout: float) -> dict[str, dict[str, Any]]:
    """The first cmd_result body for each of `ids` (schema-validated)."""
    found: dict[str, dict[str, Any]] = {}

    def done(messages: list[Received]) -> bool:
        for message in messages:
            if "/cmd_result/" in message.topic:
                body = validate_received(message)["body"]
                if body["command_id"] in ids:
                    found.setdefault(body["command_id"], body)
        return set(found) == ids

    collect(station, done, timeout=timeout)
    return found


def test_a_revoked_resident_cannot_open_through_the_station_and_garbage_requesters_are_refused(
    tmp_path: Path,
    models_mirror: Path,
    broker: MosquittoBroker,
    station: StationClient,
    run_service: RunService,
) -> None:
    """The attack of issue 12.1: `--by resident:R-0002` (the documented form) for a revoked
    resident used to open as a station open. Over the real broker with the running service."""
    camera = empty_camera(tmp_path / "cam")
    key = Ed25519PrivateKey.generate()
    link = gateway_config(broker, tmp_path / "link", key).model_dump(mode="json")
    config = make_config(
        tmp_path, models_mirror, camera, station=link, site={"id": SITE, "gateway_id": GATEWAY}
    )
    _add_resident(config, "R-0001", active=True)
    _add_resident(config, "R-0002", active=False)  # revoked
    running = run_service(config)
    assert running.service.station is not None
    assert running.service.station.wait_connected(30)

    def send(issued_by: str) -> str:
        envelope = station.send_command(
            key, site=SITE, gateway=GATEWAY, name="open", args={}, issued_by=issued_by
        )
        return str(envelope["command"]["id"])

    refused = {
        send(by): by
        for by in (
            "resident:R-0002",  # revoked
            "resident:R-9999",  # nobody
            "R-0002",  # no kind
            "resident:",
            "Resident:R-0001",
            "resident:R-0001 ",
            "resident:R-0001\n",
            "station:",
            "operator:R-0001",
        )
    }
    results = _results(station, set(refused), timeout=60)
    by_requester = {refused[cid]: body for cid, body in results.items()}
    assert by_requester["resident:R-0002"]["error"] == "open_denied"
    assert by_requester["resident:R-0002"]["message"] == "person_inactive"
    assert by_requester["resident:R-9999"]["message"] == "unknown_person"
    for garbage in set(refused.values()) - {"resident:R-0002", "resident:R-9999"}:
        assert by_requester[garbage]["error"] == "bad_requester", garbage
    assert not any(body["ok"] for body in results.values())
    assert not running.io.relay_energised
    assert not any(d.granted for d in running.decisions if d.method is Method.REMOTE)

    allowed = send("resident:R-0001")  # the same path still opens for an active resident
    assert _results(station, {allowed}, timeout=60)[allowed]["ok"]
    assert running.wait_for(lambda: running.io.relay_energised, timeout=10)
