"""One simulated gateway speaking the exact station contract (docs/mqtt.md).

Its own MQTT session (QoS 1, persistent, last will `offline`), gapless `seq` over an in-memory
outbox, envelopes built like `gateway.station.envelope` (an access event keeps its event id,
every other row gets `stable_uuid7(created_at, gateway, seq)`), retained `status` with the
outbox watermark, QoS 0 `telemetry` with runtime figures, and signed commands checked by the
gateway's own `verify_command`; every command gets one `cmd_result`, acknowledged after it is
queued. `replay` re-sends the range with `replayed: true`. Visitor calls and `answer_call` are
`sim_calls.SimCallDesk`'s.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.station.envelope import stable_uuid7
from gateway.station.mqtt_client import BrokerAccess, connect_async, make_client
from gateway.station.topics import Topics
from gateway.station.verify import Expectation, Refusal, VerifiedCommand, verify_command
from gateway.store.uuid7 import uuid7
from station_console.sim_calls import SimCallDesk

MODEL_ID = "sim-model-v1"
METHODS = ("face", "face", "face", "card", "pin", "exit", "exit", "code")
ALERT_KINDS = ("watchlist_match", "tailgating", "door_forced", "spoof_attempt")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class SimGateway:
    def __init__(
        self,
        access: BrokerAccess,
        prefix: str,
        site: str,
        gateway: str,
        station_key: Ed25519PublicKey | None,
        snapshot: bytes,
        seed: int = 0,
    ) -> None:
        self.topics = Topics(prefix, site, gateway)
        self.site, self.gateway = site, gateway
        self.snapshot = snapshot
        self.random = random.Random(seed)
        self.expect = Expectation(
            site, gateway, station_key, 16 * 1024 * 1024, timedelta(hours=1), timedelta(seconds=30)
        )
        self.outbox: dict[int, tuple[str, dict[str, Any]]] = {}
        self.seq = 0
        self.alert_id = 0
        self.nonces: set[str] = set()
        self.results: list[dict[str, Any]] = []
        self.opens = 0
        self.calls = SimCallDesk("main", snapshot, self._call_event)
        self.silent = False  # stop telemetry and status (a hung gateway)
        self._lock = threading.Lock()
        self._live: dict[int, int] = {}  # mid -> seq of live (first) publishes
        self._acked: set[int] = set()
        self._pubacks: list[int] = []  # mids PUBACKed, appended by paho's thread
        self.delivered_up_to = 0
        self.started = datetime.now(UTC)
        self.access = access
        self.client = make_client(access, f"menwei-{site}-{gateway}", manual_ack=True)
        # spread reconnects: a thousand gateways must not all come back in the same second
        self.client.reconnect_delay_set(1 + self.random.randrange(5), 30)
        self.client.connect_timeout = 30.0
        self.connected = threading.Event()
        self.client.will_set(self.topics.availability, b"offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish

    def start(self) -> None:
        connect_async(self.client, self.access, 86400, clean_start=False, receive_maximum=16)
        self.client.loop_start()

    def stop(self, clean: bool = True) -> None:
        if clean:
            self.client.publish(self.topics.availability, b"offline", qos=1, retain=True)
        self.client.disconnect()
        self.client.loop_stop()

    # --- outbox and envelopes ----------------------------------------------------------
    def _append(self, row_type: str, body: dict[str, Any], topic: str) -> int:
        with self._lock:
            self.seq += 1
            seq, now = self.seq, datetime.now(UTC)
            keeps_id = row_type in ("access_event", "visitor_call")
            message_id = body.get("event_id") if keeps_id else None
            envelope = {
                "v": 1,
                "id": message_id or stable_uuid7(now, self.gateway, seq),
                "seq": seq,
                "site": self.site,
                "gateway": self.gateway,
                "type": row_type,
                "created_at": now.isoformat(),
                "replayed": False,
                "body": body,
            }
            self.outbox[seq] = (topic, envelope)
            info = self.client.publish(topic, _dumps(envelope), qos=1)
            self._live[info.mid] = seq
            return seq

    def lose_next(self) -> int:
        """Take the next seq into the outbox without it reaching the station (as if a broker
        crash lost it after PUBACK); only a replay delivers it."""
        now = datetime.now(UTC)
        with self._lock:
            self.seq += 1
            body = {
                "event_id": str(uuid7()),
                "occurred_at": now.isoformat(),
                "door": "main",
                "method": "card",
                "verdict": "grant",
                "reason": "ok",
                "person": "R-0001",
                "score": None,
            }
            envelope = {
                "v": 1,
                "id": body["event_id"],
                "seq": self.seq,
                "site": self.site,
                "gateway": self.gateway,
                "type": "access_event",
                "created_at": now.isoformat(),
                "replayed": False,
                "body": body,
            }
            self.outbox[self.seq] = (self.topics.event("access"), envelope)
            self._acked.add(self.seq)
            return self.seq

    def access_event(self, method: str | None = None, verdict: str = "grant") -> int:
        method = method or self.random.choice(METHODS)
        now = datetime.now(UTC)
        body = {
            "event_id": str(uuid7()),
            "occurred_at": now.isoformat(),
            "door": "main",
            "method": method,
            "verdict": verdict if method != "exit" else "grant",
            "reason": "ok" if verdict == "grant" else "unknown_face",
            "person": f"R-{self.random.randrange(1, 400):04d}" if method != "code" else None,
            "score": round(self.random.uniform(0.5, 0.9), 3) if method == "face" else None,
        }
        kind = "visitor" if method == "code" else "access"
        return self._append("access_event", body, self.topics.event(kind))

    def _call_event(self, body: dict[str, Any]) -> None:
        self._append("visitor_call", body, self.topics.event("visitor_call"))

    def place_call(self, room: str = "1201", ring_s: float = 45.0) -> str:
        """A visitor at this door calls `room`; the call id (`events/visitor_call` placed)."""
        return self.calls.place(room, ring_s)

    def end_missed_calls(self) -> None:
        self.calls.expire()

    def alert(self, kind: str | None = None) -> int:
        self.alert_id += 1
        data = base64.b64encode(self.snapshot).decode("ascii")
        body = {
            "alert_id": self.alert_id,
            "kind": kind or self.random.choice(ALERT_KINDS),
            "severity": "critical",
            "occurred_at": datetime.now(UTC).isoformat(),
            "has_snapshot": True,
            "detail": {"door": "main"},
            "snapshot": {
                "content_type": "image/jpeg",
                "bytes": len(self.snapshot),
                "truncated": False,
                "data": data,
            },
        }
        return self._append("alert", body, self.topics.event("alert"))

    def telemetry(self) -> None:
        if self.silent:
            return
        now = datetime.now(UTC)
        with self._lock:
            self._settle_acks()
            pending = self.seq - self.delivered_up_to
        payload = {
            "v": 1,
            "site": self.site,
            "gateway": self.gateway,
            "at": now.isoformat(),
            "outbox_pending": pending,
            "published": self.seq,
            "acknowledged": self.delivered_up_to,
            "refused_by_broker": 0,
            "replayed": 0,
            "compacted": 0,
            "runtime": {
                "fps": round(self.random.uniform(9, 15), 1),
                "decision_latency_p50_ms": round(self.random.uniform(60, 90), 1),
                "decision_latency_p95_ms": round(self.random.uniform(110, 180), 1),
                "dropped_frames": 0,
                "outbox_depth": pending,
                "cpu_temperature_c": round(self.random.uniform(45, 70), 1),
                "disk_free_bytes": 12_000_000_000,
                "load_1m": round(self.random.uniform(0.5, 2.0), 2),
            },
        }
        self.client.publish(self.topics.telemetry, _dumps(payload), qos=0)
        self.status()

    def status(self) -> None:
        with self._lock:
            self._settle_acks()
            delivered, inflight = self.delivered_up_to, len(self._live)
        payload = {
            "v": 1,
            "site": self.site,
            "gateway": self.gateway,
            "at": datetime.now(UTC).isoformat(),
            "uptime_s": round((datetime.now(UTC) - self.started).total_seconds(), 1),
            "model_id": MODEL_ID,
            "door": {"lock_state": "LOCKED"},
            "health": {"camera": "ok"},
            "outbox": {"delivered_up_to": delivered, "inflight": inflight},
        }
        self.client.publish(self.topics.status, _dumps(payload), qos=1, retain=True)

    # --- paho callbacks ------------------------------------------------------------------
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            return
        self.connected.set()
        client.publish(self.topics.availability, b"online", qos=1, retain=True)
        client.subscribe(self.topics.command_filter, qos=1)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        self._pubacks.append(mid)  # resolved under our lock later: paho holds its own here

    def drained(self) -> bool:
        """True when the broker acknowledged every seq this gateway published."""
        with self._lock:
            self._settle_acks()
            return self.delivered_up_to == self.seq

    def _settle_acks(self) -> None:
        """Advance `delivered_up_to` over acknowledged seqs (call with the lock held)."""
        waiting: list[int] = []
        while self._pubacks:
            mid = self._pubacks.pop()
            seq = self._live.pop(mid, None)
            if seq is None:
                waiting.append(mid)  # acknowledged before its publish call returned
            else:
                self._acked.add(seq)
        self._pubacks.extend(waiting)
        while self.delivered_up_to + 1 in self._acked:
            self.delivered_up_to += 1
            self._acked.discard(self.delivered_up_to)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        name = self.topics.command_name(message.topic)
        if name is not None:
            self._command(name, message)
        if message.qos > 0:
            client.ack(message.mid, message.qos)

    def _command(self, name: str, message: mqtt.MQTTMessage) -> None:
        now = datetime.now(UTC)
        verified = verify_command(
            bytes(message.payload),
            topic_command=name,
            retained=bool(message.retain),
            expect=self.expect,
            now=now,
        )
        if isinstance(verified, Refusal):
            self._result(
                verified.command_id,
                name,
                False,
                verified.error,
                verified.message,
                {},
                verified.authenticated,
            )
            return
        if verified.nonce in self.nonces:
            self._result(verified.command_id, name, False, "replayed", "nonce seen", {}, True)
            return
        self.nonces.add(verified.nonce)
        ok, error, text, data = self._run(verified)
        self._result(verified.command_id, name, ok, error, text, data, True)

    def _run(self, verified: VerifiedCommand) -> tuple[bool, str | None, str, dict[str, Any]]:
        name, args = verified.name, verified.args
        if name == "answer_call":
            return self.calls.answer(args, verified.issued_by, verified.expires_at)
        if name == "replay":
            since = int(args.get("since_seq", 1))
            until = int(args.get("until_seq", self.seq))
            self.replay(since, until)
            return True, None, "replay queued", {"first_seq": since, "last_seq": until}
        if name == "open":
            self.opens += 1
            seq = self.access_event("remote")
            return True, None, "opened", {"event_id": self.outbox[seq][1]["id"]}
        if name == "issue_code":
            return True, None, "visitor code issued", {"code_id": self.random.randrange(1, 10**6)}
        if name in ("sync_watchlist", "sync_people"):
            upserts = args.get("upserts") or []
            return (
                True,
                None,
                "delta applied",
                {"version": args.get("version"), "upserts": len(upserts)},
            )
        return False, "not_supported", f"{name} is not simulated", {}

    def _result(
        self,
        command_id: str | None,
        name: str,
        ok: bool,
        error: str | None,
        text: str,
        data: dict[str, Any],
        authenticated: bool,
    ) -> None:
        body = {
            "command_id": command_id,
            "name": name,
            "ok": ok,
            "error": error,
            "message": text,
            "data": data,
            "at": datetime.now(UTC).isoformat(),
            "authenticated": authenticated,
        }
        self.results.append(body)
        self._append("command_result", body, self.topics.result(name))

    def replay(self, since: int, until: int) -> None:
        with self._lock:
            rows = [self.outbox[s] for s in range(since, until + 1) if s in self.outbox]
        for topic, envelope in rows:
            self.client.publish(topic, _dumps({**envelope, "replayed": True}), qos=1)
