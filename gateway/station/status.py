"""Status, telemetry and Home Assistant discovery payloads (the door lock, the doorbell).

Status (retained, QoS 1): door state and health as the runtime reports them, plus the outbox
watermark. The runtime's `status()` callback should return {"door": {"lock_state": one of
LOCKED/UNLOCKED/OPEN/JAMMED, ...}, "health": {...}}; `lock_state` is what Home Assistant shows
(null, i.e. unknown, when the runtime does not report it).
Telemetry (QoS 0): counters and the pending outbox depth.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.config.station import StationConfig
from gateway.station.drain import OutboxDrain
from gateway.station.topics import Topics
from gateway.store.events import count_pending
from gateway.store.store import Store

HA_LOCK_STATES = ("LOCKED", "UNLOCKED", "OPEN", "JAMMED", "LOCKING", "UNLOCKING")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def status_payload(
    topics: Topics,
    model_id: str,
    extra: dict[str, Any],
    drain: OutboxDrain,
    at: datetime,
    uptime_s: float,
) -> bytes:
    door = dict(extra.get("door") or {})
    if door.get("lock_state") not in HA_LOCK_STATES:
        door["lock_state"] = None  # not reported: shown as unknown, never guessed as LOCKED
    return _dumps(
        {
            "v": 1,
            "site": topics.site,
            "gateway": topics.gateway,
            "at": at.isoformat(),
            "uptime_s": round(uptime_s, 1),
            "model_id": model_id,
            "door": door,
            "health": dict(extra.get("health") or {}),
            "outbox": {"delivered_up_to": drain.delivered_up_to, "inflight": drain.inflight},
        }
    )


def telemetry_payload(
    topics: Topics,
    drain: OutboxDrain,
    store: Store,
    gateway_id: str,
    at: datetime,
    runtime: Mapping[str, float | None] | None = None,
) -> bytes:
    with store.sessions.reading() as session:
        pending = count_pending(session, gateway_id)
    counters = drain.counters
    extra: dict[str, Any] = {} if runtime is None else {"runtime": dict(runtime)}
    return _dumps(
        {
            **extra,
            "v": 1,
            "site": topics.site,
            "gateway": topics.gateway,
            "at": at.isoformat(),
            "outbox_pending": pending,
            "published": counters.published,
            "acknowledged": counters.acknowledged,
            "refused_by_broker": counters.refused_by_broker,
            "replayed": counters.replayed,
            "compacted": counters.compacted,
        }
    )


def discovery_message(config: StationConfig, topics: Topics, client_id: str) -> tuple[str, bytes]:
    """HA MQTT discovery of the door as a lock. The gateway does not act on HA's command topic:
    opening needs a signed station command, so HA shows the state only."""
    object_id = f"{topics.site}_{topics.gateway}".replace(".", "_")
    topic = f"{config.home_assistant_prefix}/lock/{object_id}/door/config"
    payload = {
        "name": "Door",
        "unique_id": f"menwei_{object_id}_door",
        "state_topic": topics.status,
        "value_template": "{{ value_json.door.lock_state }}",
        "command_topic": f"{topics.base}/ha/command",
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "optimistic": False,
        "qos": 1,
        "device": {
            "identifiers": [f"menwei_{object_id}"],
            "name": f"menwei {topics.site} {topics.gateway}",
            "manufacturer": "menwei",
            "model": "edge access gateway",
        },
    }
    return topic, _dumps(payload)


CALL_OUTCOMES = ["placed", "accepted", "declined", "missed", "refused"]


def doorbell_discovery_message(config: StationConfig, topics: Topics) -> tuple[str, bytes]:
    """HA MQTT discovery of visitor calls as a doorbell event entity: each visitor_call message
    fires an event named by its outcome, with the call id and unit (never the snapshot)."""
    object_id = f"{topics.site}_{topics.gateway}".replace(".", "_")
    topic = f"{config.home_assistant_prefix}/event/{object_id}/doorbell/config"
    payload = {
        "name": "Doorbell",
        "unique_id": f"menwei_{object_id}_doorbell",
        "device_class": "doorbell",
        "state_topic": topics.event("visitor_call"),
        "event_types": CALL_OUTCOMES,
        "value_template": (
            "{{ {'event_type': value_json.body.outcome, 'call_id': value_json.body.call_id, "
            "'unit': value_json.body.unit, 'reason': value_json.body.reason} | to_json }}"
        ),
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": 1,
        "device": {"identifiers": [f"menwei_{object_id}"]},
    }
    return topic, _dumps(payload)
