"""Delivery over a real broker: order, schemas, snapshots, broker outages, replay, compaction."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.station.link import StationLink
from gateway.station.station_client import Received, SequenceTracker, StationClient
from gateway.store.base import Verdict
from gateway.store.events import count_pending
from gateway.store.store import Store
from tests.station.broker import GATEWAY, PREFIX, SITE, MosquittoBroker
from tests.station.conftest import (
    MODEL_ID,
    collect,
    gateway_config,
    station_access,
    validate_received,
    wait_until,
)
from tests.station.events import TINY_JPEG, add_access_events, add_alert, bulk_access_events


def events_of(messages: list[Received]) -> list[dict[str, Any]]:
    return [m.json() for m in messages if "/events/" in m.topic]


def make_link(
    store: Store,
    door_id: int,
    broker: MosquittoBroker,
    folder: Path,
    key: Ed25519PrivateKey | None,
    **overrides: Any,
) -> StationLink:
    return StationLink(
        gateway_config(broker, folder, key, **overrides),
        store,
        site_id=SITE,
        gateway_id=GATEWAY,
        door_id=door_id,
        model_id=MODEL_ID,
        callbacks=None,
    )


def test_every_payload_matches_its_schema_and_events_arrive_in_order(
    broker: MosquittoBroker,
    station: StationClient,
    store_and_door: tuple[Store, int],
    tmp_path: Path,
    station_key: Ed25519PrivateKey,
) -> None:
    store, door_id = store_and_door
    add_access_events(store, door_id, 30)
    alert_seq = add_alert(store, door_id)
    add_access_events(store, door_id, 5, Verdict.DENY, start=30)
    link = make_link(
        store, door_id, broker, tmp_path / "gw", station_key, home_assistant_discovery=True
    )
    with link:
        got = collect(
            station,
            lambda got: (
                len(events_of(got)) >= 36
                and any(m.topic.endswith("/status") for m in got)
                and any(m.topic.endswith("/telemetry") for m in got)
            ),
        )
        wait_until(lambda: link.drain.delivered_up_to >= 36, what="rows marked delivered")
    for message in got:
        validate_received(message)
    events = events_of(got)
    assert [e["seq"] for e in events] == list(range(1, 37))
    alert = next(e for e in events if e["type"] == "alert")
    assert alert["seq"] == alert_seq
    assert base64.b64decode(alert["body"]["snapshot"]["data"]) == TINY_JPEG
    visitor = [m for m in got if m.topic.endswith("/events/visitor")]
    assert visitor and all(m.json()["body"]["method"] == "code" for m in visitor)
    for event in events:
        assert not {"embedding", "template", "vector", "snapshot"} & set(event["body"]) or (
            event["type"] == "alert"
        )
    assert any(m.topic.endswith("/availability") and m.payload == b"online" for m in got)
    status = next(m.json() for m in got if m.topic.endswith("/status"))
    assert status["door"]["lock_state"] is None  # not reported by a runtime: never guessed
    with store.sessions.reading() as session:
        assert count_pending(session, GATEWAY) == 0


class StationView:
    """What a station keeps: new events in arrival order, and the seq -> id map."""

    def __init__(self, client: StationClient) -> None:
        self.client = client
        self.tracker = SequenceTracker()
        self.live_order: list[int] = []
        self.ids_by_seq: dict[int, str] = {}
        self.messages: list[Received] = []
        self._read = 0

    def _absorb(self, messages: list[Received]) -> None:
        while self._read < len(messages):
            message = messages[self._read]
            self._read += 1
            if "/events/" not in message.topic:
                continue
            envelope = validate_received(message)
            assert self.ids_by_seq.setdefault(envelope["seq"], envelope["id"]) == envelope["id"]
            if self.tracker.add(envelope) and not envelope["replayed"]:
                self.live_order.append(envelope["seq"])

    def until_distinct(self, count: int, timeout: float = 120) -> None:
        def enough(messages: list[Received]) -> bool:
            self._absorb(messages)
            return len(self.ids_by_seq) >= count

        collect(self.client, enough, timeout=timeout, into=self.messages)

    def missing(self, last: int) -> set[int]:
        return set(range(1, last + 1)) - set(self.ids_by_seq)


def test_broker_stopped_and_killed_mid_stream_loses_nothing(
    broker: MosquittoBroker,
    station: StationClient,
    store_and_door: tuple[Store, int],
    tmp_path: Path,
    station_key: Ed25519PrivateKey,
) -> None:
    total = 3000
    store, door_id = store_and_door
    bulk_access_events(store, total)
    view = StationView(station)
    with make_link(store, door_id, broker, tmp_path / "gw", station_key) as link:
        view.until_distinct(500)
        broker.terminate()  # graceful stop: mosquitto saves the persistent sessions
        broker.start()
        view.until_distinct(1500)
        broker.kill()  # crash: what the broker acknowledged but had not forwarded may be lost
        broker.start()
        wait_until(lambda: link.drain.delivered_up_to >= total, timeout=120, what="drain")
        wait_until(station.client.is_connected, timeout=60, what="station reconnect")
        wait_until(lambda: link.connected, timeout=60, what="gateway reconnect")
        try:
            view.until_distinct(total, timeout=10)
        except AssertionError:
            gaps = view.missing(total)  # the station's duty: ask for what it did not see
            station.send_command(
                station_key,
                site=SITE,
                gateway=GATEWAY,
                name="replay",
                args={"since_seq": min(gaps), "until_seq": max(gaps)},
                issued_by="station:test",
            )
            view.until_distinct(total)
    assert view.missing(total) == set()
    assert view.live_order == sorted(view.live_order), "live delivery is in sequence order"
    with store.sessions.reading() as session:
        assert count_pending(session, GATEWAY) <= 1  # at most the replay command's result


def test_the_window_never_exceeds_the_brokers_receive_maximum(
    store_and_door: tuple[Store, int], tmp_path: Path
) -> None:
    store, door_id = store_and_door
    bulk_access_events(store, 2000)
    small = MosquittoBroker(tmp_path / "small-broker", max_inflight=20)  # mosquitto's default
    small.start()
    try:
        link = make_link(store, door_id, small, tmp_path / "gw", None, inflight_window=100)
        with link:
            wait_until(lambda: link.drain.delivered_up_to >= 2000, what="drain")
            assert link.drain.window == 20
            assert link.disconnects == 0
        assert "Receive Maximum" not in small.log.read_text()
    finally:
        small.stop()


def test_home_assistant_discovers_the_door_as_a_lock(
    broker: MosquittoBroker, store_and_door: tuple[Store, int], tmp_path: Path
) -> None:
    store, door_id = store_and_door
    ha = StationClient(
        station_access(broker),
        "ha-test",
        PREFIX,
        clean_start=True,
        extra_filters=("homeassistant/#",),
    )
    ha.start()
    try:
        with make_link(
            store, door_id, broker, tmp_path / "gw", None, home_assistant_discovery=True
        ):
            got = collect(ha, lambda got: any(m.topic.startswith("homeassistant/") for m in got))
    finally:
        ha.stop()
    message = next(m for m in got if m.topic.startswith("homeassistant/"))
    assert message.topic == f"homeassistant/lock/{SITE}_{GATEWAY}/door/config"
    config = message.json()
    base = f"{PREFIX}/{SITE}/{GATEWAY}"
    assert config["state_topic"] == f"{base}/status"
    assert config["availability_topic"] == f"{base}/availability"
    assert config["value_template"] == "{{ value_json.door.lock_state }}"
    assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")


def test_rows_are_marked_delivered_only_after_their_puback(
    broker: MosquittoBroker, store_and_door: tuple[Store, int], tmp_path: Path
) -> None:
    store, door_id = store_and_door
    with make_link(store, door_id, broker, tmp_path / "gw", None) as link:
        assert link.wait_connected(30)
        broker.pause()  # the broker hears nothing and acknowledges nothing
        try:
            bulk_access_events(store, 500)
            link.notify()
            wait_until(lambda: link.drain.counters.published >= 50, what="publishes sent")
            assert link.drain.delivered_up_to == 0
            with store.sessions.reading() as session:
                assert count_pending(session, GATEWAY) == 500
        finally:
            broker.resume()
        wait_until(lambda: link.drain.delivered_up_to >= 500, what="delivered after PUBACKs")
        assert link.drain.counters.acknowledged >= 500
