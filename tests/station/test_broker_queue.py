"""The station broker's queue limit with a slow station subscriber (issue 12.13).

mosquitto queues at most `max_queued_messages` (default 1000) messages per session beyond those
in flight and silently drops the rest, although it PUBACKed them to the gateway (which marked
them delivered). Both cases run a real mosquitto and a real gateway link, with a station
subscriber that takes nothing (acknowledges nothing) until the gateway's outbox is drained:

* mosquitto's default: events are dropped; the station sees the gap in `seq` and a `replay`
  command recovers every one of them (the gateway keeps delivered rows for this);
* the shipped docs/mosquitto-station.conf: nothing is dropped.
"""

from __future__ import annotations

import json
import queue
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.station.keys import make_command, sign_command
from gateway.station.local_broker import LocalBroker, config_lines
from gateway.station.mqtt_client import connect_properties
from gateway.station.station_client import SequenceTracker
from gateway.station.topics import Topics, station_filters
from gateway.store.events import count_pending
from gateway.store.store import Store
from tests.station.broker import GATEWAY, PREFIX, SITE, USERS, acl_text
from tests.station.conftest import now_utc, wait_until
from tests.station.events import bulk_access_events
from tests.station.test_delivery import make_link

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "docs" / "mosquitto-station.conf"
EVENTS = 4000
MOSQUITTO_DEFAULT = ["persistence true", "autosave_interval 1"]  # queue and in-flight: defaults


class SlowStation:
    """A station subscriber that holds every acknowledgement until `release()`."""

    def __init__(self, broker: LocalBroker) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id="slow-station",
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self.client.tls_set_context(ssl.create_default_context(cafile=str(broker.ca)))
        self.client.username_pw_set("station", USERS["station"])
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._held: list[int] = []
        self._released = False
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client.on_connect = lambda client, *_: client.subscribe(
            [(topic, 1) for topic in station_filters(PREFIX)]
        )
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(
            "127.0.0.1", broker.port, clean_start=False, properties=connect_properties(3600)
        )
        self.client.loop_start()
        assert self._subscribed.wait(30)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.put((message.topic, bytes(message.payload)))
        with self._lock:
            if not self._released:
                self._held.append(message.mid)
                return
        client.ack(message.mid, message.qos)

    def release(self) -> None:
        with self._lock:
            self._released = True
            held, self._held = self._held, []
        for mid in held:
            self.client.ack(mid, 1)

    def events(self, tracker: SequenceTracker, quiet_s: float, until: int) -> None:
        """Absorb events until `until` distinct ids are seen or no event came for `quiet_s`
        (status and telemetry keep arriving and do not count)."""
        last_event = time.monotonic()
        while len(tracker.seen_ids) < until and time.monotonic() - last_event < quiet_s:
            try:
                topic, payload = self.messages.get(timeout=0.5)
            except queue.Empty:
                continue
            if "/events/" in topic:
                tracker.add(json.loads(payload))
                last_event = time.monotonic()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(params=["mosquitto-default", "shipped-config"])
def queue_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalBroker]:
    delivery = MOSQUITTO_DEFAULT if request.param == "mosquitto-default" else config_lines(SHIPPED)
    broker = LocalBroker(tmp_path / "broker", USERS, acl_text(), delivery=delivery)
    broker.start()
    yield broker
    broker.stop()


def test_a_slow_station_loses_nothing_or_gets_the_gap_replayed(
    queue_broker: LocalBroker, store_and_door: tuple[Store, int], tmp_path: Path
) -> None:
    store, door_id = store_and_door
    key = Ed25519PrivateKey.generate()
    slow = SlowStation(queue_broker)
    bulk_access_events(store, EVENTS)
    tracker = SequenceTracker()
    link = make_link(store, door_id, queue_broker, tmp_path / "gw", key)  # type: ignore[arg-type]
    try:
        link.start()
        wait_until(lambda: _pending(store) == 0, timeout=120, what="outbox drained")
        slow.release()  # the station catches up only now
        slow.events(tracker, quiet_s=5.0, until=EVENTS)
        missing = tracker.missing.get(f"{SITE}/{GATEWAY}", set()) | set(
            range(max(tracker.highest.values(), default=0) + 1, EVENTS + 1)
        )
        shipped = queue_broker.config.read_text().count("max_queued_messages 1000000") == 1
        print(f"slow subscriber ({'shipped' if shipped else 'default'}): {len(missing)} dropped")
        if shipped:
            assert missing == set()
        else:
            assert len(missing) > EVENTS // 2, "mosquitto's default queue should have dropped"
            command = make_command(
                name="replay",
                site=SITE,
                gateway=GATEWAY,
                args={"since_seq": min(missing), "until_seq": max(missing)},
                issued_by="station",
                now=now_utc(),
            )
            topic = Topics(PREFIX, SITE, GATEWAY).command("replay")
            slow.client.publish(topic, json.dumps(sign_command(key, command)), qos=1)
            slow.events(tracker, quiet_s=10.0, until=EVENTS)
            missing -= {int(seq) for seq in range(1, EVENTS + 1) if _seen(tracker, seq)}
            # A replay travels the same default queue; a station asks again for what is still
            # missing (on a loaded box a second request can be needed).
            for _ in range(3):
                if not missing:
                    break
                again = make_command(
                    name="replay",
                    site=SITE,
                    gateway=GATEWAY,
                    args={"since_seq": min(missing), "until_seq": max(missing)},
                    issued_by="station",
                    now=now_utc(),
                )
                slow.client.publish(topic, json.dumps(sign_command(key, again)), qos=1)
                slow.events(tracker, quiet_s=10.0, until=EVENTS)
                missing -= {int(seq) for seq in range(1, EVENTS + 1) if _seen(tracker, seq)}
            assert missing == set()
    finally:
        link.stop()
        slow.stop()


def _seen(tracker: SequenceTracker, seq: int) -> bool:
    key = f"{SITE}/{GATEWAY}"
    return seq <= tracker.highest.get(key, 0) and seq not in tracker.missing.get(key, set())


def _pending(store: Store) -> int:
    with store.sessions.reading() as session:
        return count_pending(session, GATEWAY)
