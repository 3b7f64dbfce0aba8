"""The station side of the contract, for operators, integrators and tests.

`StationClient` subscribes to every gateway under a prefix (QoS 1, persistent session), collects
what arrives (`received` queue of `Received`), and publishes signed commands. `SequenceTracker`
is the de-duplication and gap detection a station must do: it keys on the envelope id and
reports missing sequence numbers per gateway, so the station can ask for a replay.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.station.keys import make_command, sign_command
from gateway.station.mqtt_client import BrokerAccess, connect_async, make_client
from gateway.station.topics import Topics, station_filters


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retained: bool

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class SequenceTracker:
    """Per-gateway de-duplication by id and gap detection by sequence number; ranges announced
    by an `events/compacted` notice are not gaps."""

    seen_ids: set[str] = field(default_factory=set)
    highest: dict[str, int] = field(default_factory=dict)
    missing: dict[str, set[int]] = field(default_factory=dict)
    compacted: set[str] = field(default_factory=set)
    duplicates: int = 0
    out_of_order: int = 0

    def add(self, envelope: dict[str, Any]) -> bool:
        """True when the event is new; duplicates (same id) are counted and dropped."""
        key = f"{envelope['site']}/{envelope['gateway']}"
        if envelope["id"] in self.seen_ids:
            self.duplicates += 1
            return False
        self.seen_ids.add(envelope["id"])
        seq = int(envelope["seq"])
        top = self.highest.get(key, 0)
        gaps = self.missing.setdefault(key, set())
        if seq > top:
            gaps.update(range(top + 1, seq))
            self.highest[key] = seq
        elif seq in gaps:
            gaps.discard(seq)
        else:
            self.out_of_order += 1
        if envelope.get("type") == "compacted":  # skipped on purpose: not gaps (replayable)
            for first, last in envelope["body"]["ranges"]:
                gaps.difference_update(range(first, last + 1))
                self.compacted.update(f"{key}#{s}" for s in range(first, last + 1))
        return True


class StationClient:
    """A station connection: collect gateway messages, send signed commands."""

    def __init__(
        self,
        access: BrokerAccess,
        client_id: str,
        prefix: str,
        *,
        session_expiry_s: int = 3600,
        clean_start: bool = False,
        extra_filters: tuple[str, ...] = (),
    ) -> None:
        self.access = access
        self.prefix = prefix
        self.filters = [*station_filters(prefix), *extra_filters]
        self.received: queue.Queue[Received] = queue.Queue()
        self.connect_error: str | None = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._session_expiry_s = session_expiry_s
        self._clean_start = clean_start
        self.client = make_client(access, client_id)
        self.client.reconnect_delay_set(1, 5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def start(self, timeout: float = 30.0) -> None:
        connect_async(self.client, self.access, self._session_expiry_s, self._clean_start)
        self.client.loop_start()
        if not self._subscribed.wait(timeout):
            raise ConnectionError(self.connect_error or "station client could not subscribe")

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self.connect_error = f"broker refused the connection: {reason_code}"
            return
        client.subscribe([(topic, 1) for topic in self.filters])
        self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, *args: Any) -> None:
        self._connected.clear()

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(code.is_failure for code in reason_codes):
            self.connect_error = f"subscription refused: {[str(c) for c in reason_codes]}"
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.received.put(Received(message.topic, bytes(message.payload), bool(message.retain)))

    def publish_raw(
        self, topic: str, payload: bytes, retain: bool = False, timeout: float = 30.0
    ) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout)

    def send_command(
        self,
        key: Ed25519PrivateKey,
        *,
        site: str,
        gateway: str,
        name: str,
        args: dict[str, Any],
        issued_by: str,
        lifetime: timedelta = timedelta(seconds=60),
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Sign and publish a command; returns the signed envelope (its command id inside)."""
        command = make_command(
            name=name,
            site=site,
            gateway=gateway,
            args=args,
            issued_by=issued_by,
            now=now or datetime.now(UTC),
            lifetime=lifetime,
        )
        envelope = sign_command(key, command)
        topic = Topics(self.prefix, site, gateway).command(name)
        self.publish_raw(topic, json.dumps(envelope).encode("utf-8"))
        return envelope
