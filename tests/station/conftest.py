"""Station fixtures: a mosquitto per test, a SQLite store with one door, the station's key.

Helpers wait on conditions with generous timeouts (never fixed sleeps) and validate every
payload against its JSON Schema in docs/schemas/.
"""

from __future__ import annotations

import contextlib
import functools
import json
import queue
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.config.station import StationConfig
from gateway.config.store import StoreConfig
from gateway.station.keys import public_key_b64
from gateway.station.mqtt_client import BrokerAccess
from gateway.station.station_client import Received, StationClient
from gateway.store.crypto import generate_key_file
from gateway.store.places import add_building, add_door, add_site, add_unit
from gateway.store.store import Store, open_store
from tests.station.broker import GATEWAY, PREFIX, SITE, USERS, MosquittoBroker

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "docs" / "schemas"
MODEL_ID = "test-model-v1"


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


@functools.cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    document = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(
        document, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def validate(name: str, payload: Any) -> None:
    validator(name).validate(payload)


def schema_for_topic(topic: str) -> str:
    leaf = topic[len(PREFIX) + 1 :].split("/", 2)[2]
    if leaf.startswith("events/"):
        return {"access": "access_event", "visitor": "access_event"}.get(
            leaf.split("/")[1], leaf.split("/")[1]
        )
    if leaf.startswith("cmd_result/"):
        return "command_result"
    return leaf


def validate_received(message: Received) -> Any:
    """Validate by topic; returns the decoded payload."""
    name = schema_for_topic(message.topic)
    if name == "availability":
        assert message.payload in (b"online", b"offline")
        return message.payload.decode()
    payload = message.json()
    validate(name, payload)
    return payload


def make_store(folder: Path) -> tuple[Store, int]:
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "template.key"
    if not key.exists():
        generate_key_file(key)
    store = open_store(
        StoreConfig(
            url=f"sqlite:///{folder / 'menwei.db'}",
            key_file=key,
            backup_dir=folder / "backups",
            sqlite_synchronous="NORMAL",
        )
    )
    with store.sessions.writing() as session:
        from gateway.store.schema_people import Door

        door = session.query(Door).filter_by(code="main").one_or_none()
        if door is not None:
            return store, door.id
        site = add_site(
            session,
            code=SITE,
            name="Test",
            province="北京市",
            city="北京市",
            district="东城区",
            street="街道",
            community="社区",
        )
        building = add_building(session, site.id, "1")
        add_unit(session, building.id, "1", "101")
        door = add_door(session, building.id, "main", GATEWAY, "Main door")
        return store, door.id


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    mosquitto = MosquittoBroker(tmp_path / "broker")
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def store_and_door(tmp_path: Path) -> Iterator[tuple[Store, int]]:
    store, door_id = make_store(tmp_path / "store")
    yield store, door_id
    store.close()


@pytest.fixture
def station_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def gateway_config(
    broker: MosquittoBroker,
    folder: Path,
    key: Ed25519PrivateKey | None,
    user: str = "gw-1",
    password: str | None = None,
    **overrides: Any,
) -> StationConfig:
    password_file = folder / f"{user}.password"
    folder.mkdir(parents=True, exist_ok=True)
    password_file.write_text((password or USERS[user]) + "\n")
    values: dict[str, Any] = {
        "enabled": True,
        "host": "127.0.0.1",
        "port": broker.port,
        "topic_prefix": PREFIX,
        "ca_file": broker.ca,
        "username": user,
        "password_file": password_file,
        "station_public_key": public_key_b64(key) if key is not None else None,
        "nonce_db": folder / "nonces.db",
        "reconnect_min_s": 0.2,
        "reconnect_max_s": 2.0,
        "status_interval_s": 1.0,
    }
    values.update(overrides)
    return StationConfig(**values)


def station_access(broker: MosquittoBroker) -> BrokerAccess:
    return BrokerAccess(
        "127.0.0.1", broker.port, ca_file=broker.ca, username="station", password=USERS["station"]
    )


@pytest.fixture
def station(broker: MosquittoBroker) -> Iterator[StationClient]:
    client = StationClient(station_access(broker), "station-test", PREFIX)
    client.start()
    yield client
    client.stop()


def collect(
    client: StationClient,
    until: Callable[[list[Received]], bool],
    timeout: float = 60.0,
    into: list[Received] | None = None,
) -> list[Received]:
    got = into if into is not None else []
    deadline = time.monotonic() + timeout
    while not until(got):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out; got {len(got)} messages")
        with contextlib.suppress(queue.Empty):
            got.append(client.received.get(timeout=min(remaining, 0.5)))
    return got


def now_utc() -> datetime:
    return datetime.now(UTC)
