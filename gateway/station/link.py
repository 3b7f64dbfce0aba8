"""StationLink: the gateway's MQTT connection to the station, with an explicit start/stop.

start(): open the nonce cache, build the TLS client (last will `offline`, retained), start the
outbox drain, the command worker and the status timer, and connect in the background (paho
retries with backoff). On every connect: `online` (retained), subscribe to cmd/+ (QoS 1),
Home Assistant discovery when enabled. stop(): `offline` (retained), drain stopped, disconnect.

Commands: paho's network thread only files each message in the `CommandInbox` (oversized payloads
are not even kept); the command worker answers them in order through `CommandFlow` (verify,
nonce, run, result committed to the outbox) and only then acknowledges the message to the broker
(paho manual ack). The CONNECT asks the broker for at most `command_window` unacknowledged
commands and no packet over `max_command_bytes` (plus headers), so memory stays bounded and a
crash loses no command: the broker re-delivers whatever was not acknowledged.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.config.station import StationConfig
from gateway.station.command_flow import CommandFlow, CommandMessage
from gateway.station.commands import CommandHandlers, StationCallbacks
from gateway.station.drain import OutboxDrain
from gateway.station.inbox import CommandInbox, IncomingCommand
from gateway.station.keys import load_public_key
from gateway.station.mqtt_client import BrokerAccess, connect_async, make_client, read_password
from gateway.station.nonces import NonceCache
from gateway.station.refusals import RefusalLimiter
from gateway.station.status import (
    discovery_message,
    doorbell_discovery_message,
    status_payload,
    telemetry_payload,
)
from gateway.station.topics import Topics
from gateway.station.verify import Expectation
from gateway.store.store import Store

LOG = logging.getLogger(__name__)


PACKET_OVERHEAD = 64 * 1024  # fixed header, topic and properties around the largest payload


def utc_now() -> datetime:
    return datetime.now(UTC)


class StationLink:
    """One gateway's link to the station platform."""

    def __init__(
        self,
        config: StationConfig,
        store: Store,
        *,
        site_id: str,
        gateway_id: str,
        door_id: int,
        model_id: str,
        callbacks: StationCallbacks | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.store = store
        self.gateway_id = gateway_id
        self.model_id = model_id
        self.callbacks = callbacks or StationCallbacks()
        self.now = now
        self.topics = Topics(config.topic_prefix, site_id, gateway_id)
        self.client_id = config.client_id or f"menwei-{site_id}-{gateway_id}"
        self.last_error: str | None = None
        self.disconnects = 0
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._generation = 0  # bumped on every connect: acks go only to the connection they came on
        self.inbox = CommandInbox(
            qos0_capacity=config.command_window,
            byte_budget=config.max_command_bytes,
            budget_from=config.max_small_command_bytes,
        )
        self._threads: list[threading.Thread] = []
        self._started_at = time.monotonic()
        self._expect = Expectation(
            site=site_id,
            gateway=gateway_id,
            public_key=(
                load_public_key(config.station_public_key) if config.station_public_key else None
            ),
            max_bytes=config.max_command_bytes,
            max_lifetime=timedelta(seconds=config.max_command_lifetime_s),
            clock_skew=timedelta(seconds=config.clock_skew_s),
            max_small_bytes=config.max_small_command_bytes,
            max_depth=config.max_command_depth,
        )
        self._access = BrokerAccess(
            host=config.host,
            port=config.port,
            ca_file=config.ca_file,
            cert_file=config.cert_file,
            key_file=config.key_file,
            username=config.username,
            password=read_password(config.password_file),
            keepalive_s=config.keepalive_s,
        )
        self.client = make_client(self._access, self.client_id, manual_ack=True)
        self.client.will_set(self.topics.availability, b"offline", qos=1, retain=True)
        self.client.reconnect_delay_set(
            int(max(1, config.reconnect_min_s)), int(config.reconnect_max_s)
        )
        self.client.max_inflight_messages_set(config.inflight_window)
        self.client.max_queued_messages_set(0)
        self.drain = OutboxDrain(
            store,
            gateway_id,
            self.topics,
            config,
            self._publish,
            now,
            call_snapshot=self.callbacks.call_snapshot,
        )
        self.nonces: NonceCache | None = None
        self.handlers = CommandHandlers(
            store,
            config,
            self.callbacks,
            door_id=door_id,
            model_id=model_id,
            request_replay=self.drain.request_replay,
            clock=now,
        )
        self.flow = CommandFlow(
            store,
            gateway_id,
            self._expect,
            self.handlers,
            RefusalLimiter(config.refusal_results_per_minute),
            now=now,
            notify=self.drain.notify,
            stopping=self._stopping,
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        self.nonces = NonceCache(
            self.config.nonce_db,
            self.config.max_nonces,
            timedelta(seconds=self.config.clock_skew_s),
        )
        self.flow.nonces = self.nonces
        self.drain.start()
        for name, target in (
            ("station-commands", self._command_worker),
            ("station-status", self._status_timer),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        connect_async(
            self.client,
            self._access,
            self.config.session_expiry_s,
            receive_maximum=self.config.command_window,
            maximum_packet_size=self.config.max_command_bytes + PACKET_OVERHEAD,
        )
        self.client.loop_start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self.inbox.close()
        for thread in self._threads:
            thread.join(timeout)
        self.drain.stop(timeout)
        if self._connected.is_set():
            info = self.client.publish(self.topics.availability, b"offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout)
        self.client.disconnect()
        self.client.loop_stop()
        if self.nonces is not None:
            self.nonces.close()

    def __enter__(self) -> StationLink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def alive(self) -> bool:
        """The link's own threads are running (not whether the broker is reachable: a network
        outage must not make the watchdog restart the door)."""
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def wait_connected(self, timeout: float) -> bool:
        """True once connected and the command subscription was answered."""
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def commands_run(self) -> int:
        return self.flow.counters.run

    @property
    def commands_refused(self) -> int:
        return self.flow.counters.refused

    def notify(self) -> None:
        """Call after writing outbox rows to send them without waiting for the next poll."""
        self.drain.notify()

    # --- paho callbacks (network thread) ------------------------------------------------
    def _publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> int | None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            self.last_error = f"publish failed: {mqtt.error_string(info.rc)}"
            return None
        return int(info.mid)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused the connection: {reason_code}"
            LOG.error("%s (client id %s)", self.last_error, self.client_id)
            return
        LOG.info("station link connected (session present: %s)", flags.session_present)
        self._generation += 1
        # never exceed the broker's Receive Maximum (mosquitto's default is 20; paho 2 does not
        # apply it): every QoS 1 publish goes through the drain, which sizes its window to it
        receive_maximum = getattr(properties, "ReceiveMaximum", None) or 65535
        self.drain.window = max(1, min(self.config.inflight_window, int(receive_maximum)))
        client.subscribe(self.topics.command_filter, qos=1)
        self.drain.publish_control(self.topics.availability, b"online", qos=1, retain=True)
        if self.config.home_assistant_discovery:
            discovered = [discovery_message(self.config, self.topics, self.client_id)]
            if self.callbacks.on_call_answer is not None:  # visitor calls ring at this door
                discovered.append(doorbell_discovery_message(self.config, self.topics))
            for topic, payload in discovered:
                self.drain.publish_control(topic, payload, qos=1, retain=True)
        self._publish_status()
        self.drain.set_connected(True)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self.last_error = (
            f"could not connect to {self.config.host}:{self.config.port}: network error or TLS "
            "verification failed (check ca_file, the broker certificate and its host name)"
        )
        LOG.error("%s; retrying", self.last_error)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self.drain.set_connected(False)
        if not self._stopping.is_set():
            self.disconnects += 1
            LOG.warning("station link disconnected: %s; reconnecting", reason_code)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            self.last_error = (
                f"broker refused the subscription to {self.topics.command_filter}: "
                f"{refused[0]} (check the ACL)"
            )
            LOG.error("%s", self.last_error)
        self._connected.set()  # connected, and the command subscription is in place (or refused)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.drain.on_puback(mid, reason_code.is_failure, str(reason_code))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        name = self.topics.command_name(message.topic) or message.topic.rsplit("/", 1)[-1]
        size = len(message.payload)
        keep = size <= self._expect.size_limit(name)  # an oversized payload is never held
        LOG.debug("received %s mid %d dup %s qos %d", name, message.mid, message.dup, message.qos)
        self.inbox.put(
            IncomingCommand(
                topic=name,
                payload=bytes(message.payload) if keep else None,
                size=size,
                mid=message.mid,
                qos=message.qos,
                dup=bool(message.dup),
                retained=bool(message.retain),
                generation=self._generation,
            )
        )

    # --- commands (worker thread) -------------------------------------------------------
    def _command_worker(self) -> None:
        while True:
            item = self.inbox.get()
            if item is None:
                return
            try:
                if item.size == 0 and item.retained:  # a retained command being cleared
                    answered = True
                else:
                    self.flow.answer(
                        CommandMessage(
                            item.topic,
                            item.payload,
                            item.size,
                            retained=item.retained,
                            dup=item.dup,
                            over_budget=item.over_budget,
                        )
                    )
                    answered = True
            except Exception:
                answered = False  # not acknowledged: the broker re-delivers it after a reconnect
                LOG.exception("command on %s could not be answered", item.topic)
            finally:
                self.inbox.release(item)
            if answered:
                self._ack(item)

    def _ack(self, item: IncomingCommand) -> None:
        """Acknowledge a command whose result is committed (QoS 1 and 2 only). After a reconnect
        the broker re-delivers it with the same packet id: that copy is acknowledged instead."""
        if item.qos == 0 or item.generation != self._generation:
            return
        LOG.debug("ack %d (generation %d)", item.mid, item.generation)
        rc = self.client.ack(item.mid, item.qos)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            LOG.warning("command ack %d not sent: %s", item.mid, mqtt.error_string(rc))

    # --- status (timer thread) ----------------------------------------------------------
    def _publish_status(self) -> None:
        extra = self.callbacks.status() if self.callbacks.status is not None else {}
        payload = status_payload(
            self.topics,
            self.model_id,
            extra,
            self.drain,
            self.now(),
            time.monotonic() - self._started_at,
        )
        self.drain.publish_control(self.topics.status, payload, qos=1, retain=True)

    def _status_timer(self) -> None:
        while not self._stopping.wait(self.config.status_interval_s):
            if not self._connected.is_set():
                continue
            try:
                self._publish_status()
                runtime = self.callbacks.telemetry() if self.callbacks.telemetry else None
                telemetry = telemetry_payload(
                    self.topics, self.drain, self.store, self.gateway_id, self.now(), runtime
                )
                self.drain.publish_control(self.topics.telemetry, telemetry, qos=0)
            except Exception:
                LOG.exception("status could not be published")
