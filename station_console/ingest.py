"""The ingest: one persistent MQTT session (QoS 1, clean_start false, fixed client id, manual
acknowledgement) feeding PostgreSQL.

paho's network thread only queues each message with the connection generation it came on. The
worker takes a batch, writes it in one transaction (`writer.write_batch`), commits, and only then
acknowledges each message, and only on the connection it came from (after a reconnect the broker
re-delivers it, and the duplicate is dropped by the event id). A failed write is retried with the
messages still unacknowledged. Once a second the worker sends the replays that are due.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from gateway.station.mqtt_client import connect_async, make_client
from gateway.station.topics import station_filters
from station_console.config import BrokerSection
from station_console.db import Database
from station_console.live import LiveFeed
from station_console.messages import Envelope, GatewayMessage, Rejected, parse
from station_console.schema import EventRow, GatewayRow
from station_console.sequence import ReplayRequest, SequenceBook
from station_console.writer import BatchOutcome, write_batch

LOG = logging.getLogger(__name__)
BATCH_MAX = 500


@dataclass(frozen=True)
class Incoming:
    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes


@dataclass
class IngestCounters:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    write_failures: int = 0
    replays_sent: int = 0
    connects: int = 0


class Ingest:
    def __init__(
        self,
        broker: BrokerSection,
        database: Database,
        book: SequenceBook,
        feed: LiveFeed,
        send_replay: Callable[[ReplayRequest], None] | None = None,
    ) -> None:
        self.broker = broker
        self.database = database
        self.book = book
        self.feed = feed
        self.send_replay = send_replay
        self.counters = IngestCounters()
        self.client = make_client(broker.access(), broker.client_id, manual_ack=True)
        self.client.reconnect_delay_set(1, 5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self._queue: queue.Queue[Incoming] = queue.Queue()
        self._generation = 0
        self._stop = threading.Event()
        self.hold = threading.Event()  # set: take nothing (the broker keeps it; for the bench)
        self._connected = threading.Event()
        self._worker = threading.Thread(target=self._run, name="ingest", daemon=True)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        self._load_sequences()
        connect_async(
            self.client,
            self.broker.access(),
            self.broker.session_expiry_s,
            clean_start=False,
            receive_maximum=self.broker.receive_maximum,
        )
        self.client.loop_start()
        self._worker.start()
        if not self._connected.wait(timeout):
            raise ConnectionError("the station could not connect to the broker")

    def stop(self) -> None:
        self._stop.set()
        self._worker.join(30)
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1, never retained (commands)."""
        info = self.client.publish(topic, payload, qos=1, retain=False)
        if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
            raise ConnectionError(mqtt.error_string(info.rc))

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def _load_sequences(self) -> None:
        with self.database.session() as session:
            for row in session.scalars(select(GatewayRow)).all():
                stored = set(
                    session.scalars(
                        select(EventRow.seq).where(
                            EventRow.site == row.site,
                            EventRow.gateway == row.gateway,
                            EventRow.seq > row.complete_up_to,
                        )
                    ).all()
                )
                self.book.load(row.site, row.gateway, row.complete_up_to, row.highest_seq, stored)

    # --- paho callbacks (network thread) ---------------------------------------------------
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            LOG.error("broker refused the connection: %s", reason_code)
            return
        self._generation += 1
        self.counters.connects += 1
        client.subscribe([(topic, 1) for topic in station_filters(self.broker.topic_prefix)])
        self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, *args: Any) -> None:
        self._connected.clear()  # replays wait for the next connect

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._queue.put(
            Incoming(
                self._generation, message.mid, message.qos, message.topic, bytes(message.payload)
            )
        )

    # --- worker ---------------------------------------------------------------------------
    def _take(self) -> list[Incoming]:
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(batch) < BATCH_MAX:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        last_replay = 0.0
        while not self._stop.is_set():
            if self.hold.is_set():
                self._stop.wait(0.05)
                continue
            batch = self._take()
            if batch:
                self._handle(batch)
            now = time.monotonic()
            if now - last_replay >= 1.0:
                last_replay = now
                self._replays(now)

    def _handle(self, batch: list[Incoming]) -> None:
        items: list[Envelope | GatewayMessage] = []
        for incoming in batch:
            try:
                items.append(parse(self.broker.topic_prefix, incoming.topic, incoming.payload))
            except Rejected as error:
                self.counters.rejected += 1
                LOG.warning("refused a message on %s: %s", incoming.topic, error)
        while not self._stop.is_set():
            try:
                with self.database.session() as session:
                    outcome = write_batch(
                        session, items, self.book, datetime.now(UTC), time.monotonic()
                    )
                break
            except SQLAlchemyError:
                self.counters.write_failures += 1
                LOG.exception("database write failed; retrying (nothing acknowledged)")
                self._stop.wait(1.0)
        else:
            return  # stopping: not acknowledged, the broker re-delivers after restart
        for incoming in batch:
            if incoming.qos > 0 and incoming.generation == self._generation:
                self.client.ack(incoming.mid, incoming.qos)
        self.counters.received += len(batch)
        self.counters.stored += outcome.new_events
        self.counters.duplicates += outcome.duplicates
        self._announce(outcome)

    def _announce(self, outcome: BatchOutcome) -> None:
        for alert in outcome.alerts:
            self.feed.publish({**_jsonable(alert), "event": "alert"})
        for command_id in outcome.results:
            self.feed.publish({"event": "result", "command_id": command_id})
        for call in outcome.calls:
            self.feed.publish({**call, "event": "call"})

    def _replays(self, now: float) -> None:
        if self.send_replay is None or not self._connected.is_set():
            return
        for request in self.book.due(now):
            try:
                self.send_replay(request)
                self.counters.replays_sent += 1
            except Exception:
                LOG.exception("could not send replay to %s/%s", request.site, request.gateway)


def _jsonable(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in item.items()}
