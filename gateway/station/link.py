"""StationLink: the gateway's MQTT connection to the station, with an explicit start/stop.

start(): open the nonce cache, build the TLS client (last will `offline`, retained), start the
outbox drain, the command worker and the status timer, and connect in the background (paho
retries with backoff). On every connect: `online` (retained), subscribe to cmd/+ (QoS 1),
Home Assistant discovery when enabled. Commands are verified (`verify_command`, pure), their
nonce claimed (`NonceCache`), then run (`CommandHandlers`); every command, refused or not, gets a
result through the outbox. stop(): `offline` (retained), drain stopped, disconnect.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.station.commands import CommandHandlers, CommandResult, StationCallbacks
from gateway.station.config import StationConfig
from gateway.station.drain import OutboxDrain
from gateway.station.envelope import COMMAND_RESULT_TOPIC
from gateway.station.keys import load_public_key
from gateway.station.mqtt_client import BrokerAccess, connect_async, make_client, read_password
from gateway.station.nonces import NonceCache
from gateway.station.status import discovery_message, status_payload, telemetry_payload
from gateway.station.topics import Topics
from gateway.station.verify import Expectation, Refusal, verify_command
from gateway.store.events import enqueue
from gateway.store.store import Store

LOG = logging.getLogger(__name__)


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
        self.commands_refused = 0
        self.commands_run = 0
        self.disconnects = 0
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._commands: queue.Queue[mqtt.MQTTMessage | None] = queue.Queue(maxsize=1000)
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
        self.client = make_client(self._access, self.client_id)
        self.client.will_set(self.topics.availability, b"offline", qos=1, retain=True)
        self.client.reconnect_delay_set(
            int(max(1, config.reconnect_min_s)), int(config.reconnect_max_s)
        )
        self.client.max_inflight_messages_set(config.inflight_window)
        self.client.max_queued_messages_set(0)
        self.drain = OutboxDrain(store, gateway_id, self.topics, config, self._publish, now)
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
        self.drain.start()
        for name, target in (
            ("station-commands", self._command_worker),
            ("station-status", self._status_timer),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        connect_async(self.client, self._access, self.config.session_expiry_s)
        self.client.loop_start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._commands.put(None)
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
        # never exceed the broker's Receive Maximum (mosquitto's default is 20; paho 2 does not
        # apply it): every QoS 1 publish goes through the drain, which sizes its window to it
        receive_maximum = getattr(properties, "ReceiveMaximum", None) or 65535
        self.drain.window = max(1, min(self.config.inflight_window, int(receive_maximum)))
        client.subscribe(self.topics.command_filter, qos=1)
        self.drain.publish_control(self.topics.availability, b"online", qos=1, retain=True)
        if self.config.home_assistant_discovery:
            topic, payload = discovery_message(self.config, self.topics, self.client_id)
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
        try:
            self._commands.put_nowait(message)
        except queue.Full:
            LOG.error("command queue full: dropping a command on %s", message.topic)

    # --- commands (worker thread) -------------------------------------------------------
    def _command_worker(self) -> None:
        while True:
            message = self._commands.get()
            if message is None:
                return
            if not message.payload:  # a retained command being cleared: nothing to answer
                continue
            try:
                self.handle_command_message(
                    message.topic, bytes(message.payload), bool(message.retain)
                )
            except Exception:
                LOG.exception("command on %s could not be answered", message.topic)

    def handle_command_message(self, topic: str, payload: bytes, retained: bool) -> CommandResult:
        """Verify, claim the nonce, run, and queue the result; returns the result."""
        name = self.topics.command_name(topic) or topic.rsplit("/", 1)[-1]
        now = self.now()
        checked = verify_command(
            payload, topic_command=name, retained=retained, expect=self._expect, now=now
        )
        command_id = checked.command_id
        if isinstance(checked, Refusal):
            result = CommandResult(False, checked.error, checked.message)
        else:
            assert self.nonces is not None
            claim = self.nonces.claim(checked.nonce, checked.command_id, checked.expires_at, now)
            if claim == "replayed":
                result = CommandResult(False, "replayed", "this command was already received")
            elif claim == "full":
                result = CommandResult(False, "busy", "too many live commands; retry later")
            else:
                result = self.handlers.run(checked, now)
                self.commands_run += 1
        if not result.ok:
            self.commands_refused += 1
            LOG.warning(
                "command %s (%s) refused: %s %s", name, command_id, result.error, result.message
            )
        self._queue_result(name, command_id, result, now)
        return result

    def _queue_result(
        self, name: str, command_id: str | None, result: CommandResult, at: datetime
    ) -> None:
        body = {
            "command_id": command_id,
            "name": name,
            "ok": result.ok,
            "error": result.error,
            "message": result.message,
            "data": result.data,
            "at": at.isoformat(),
        }
        with self.store.sessions.writing() as session:
            enqueue(session, self.gateway_id, COMMAND_RESULT_TOPIC, body, at)
        self.drain.notify()

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


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
