"""Outbox row -> (topic, JSON bytes): the event envelope every station message shares.

Envelope: v, id (UUIDv7), seq (per-gateway, gapless), site, gateway, type, created_at, replayed,
body. The id is stable across re-sends: an access event keeps its event_id; any other row gets a
UUIDv7 derived from its created_at and sha256(gateway, seq), so a duplicate always carries the
same id. Alerts get their snapshot inline (base64 JPEG, bounded); access events never carry
biometric data (the outbox payload has none, and the envelope adds none). A visitor call's
`placed` message gets the caller's snapshot from memory while the call rings (never stored).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.station.topics import Topics
from gateway.store.schema_events import Alert, OutboxMessage

ENVELOPE_VERSION = 1
COMMAND_RESULT_TOPIC = "command_result"
COMPACTED_TOPIC = "compacted"
VISITOR_CALL_TOPIC = "visitor_call"  # gateway.store.visitor_call_events writes these rows
CallSnapshot = Callable[[str], bytes | None]  # call id -> the ringing call's JPEG, or None


@dataclass(frozen=True)
class OutgoingMessage:
    seq: int
    topic: str
    payload: bytes
    message_id: str


def stable_uuid7(created_at: datetime, gateway: str, seq: int) -> str:
    """A UUIDv7 whose random bits are a hash of (gateway, seq): the same for every re-send."""
    millis = int(created_at.timestamp() * 1000) & ((1 << 48) - 1)
    digest = int.from_bytes(hashlib.sha256(f"{gateway}\x00{seq}".encode()).digest()[:10], "big")
    rand_a = digest & 0xFFF
    rand_b = (digest >> 12) & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))


def message_topic(topics: Topics, row_topic: str, body: dict[str, Any]) -> str:
    if row_topic == "access_event":
        return topics.event("visitor" if body.get("method") == "code" else "access")
    if row_topic == "alert":
        return topics.event("alert")
    if row_topic == VISITOR_CALL_TOPIC:
        return topics.event("visitor_call")
    if row_topic == COMPACTED_TOPIC:
        return topics.event("compacted")
    if row_topic == COMMAND_RESULT_TOPIC:
        return topics.result(str(body.get("name", "unknown")))
    return f"{topics.base}/events/other"


def _snapshot(session: Session, body: dict[str, Any], max_bytes: int) -> dict[str, Any] | None:
    alert_id = body.get("alert_id")
    if not isinstance(alert_id, int):
        return None
    alert = session.get(Alert, alert_id)
    if alert is None or alert.snapshot_jpeg is None:
        return None
    jpeg = alert.snapshot_jpeg
    if len(jpeg) > max_bytes:
        return {"content_type": "image/jpeg", "bytes": len(jpeg), "truncated": True, "data": None}
    data = base64.b64encode(jpeg).decode("ascii")
    return {"content_type": "image/jpeg", "bytes": len(jpeg), "truncated": False, "data": data}


def _call_snapshot(
    body: dict[str, Any], call_snapshot: CallSnapshot | None, max_bytes: int
) -> dict[str, Any] | None:
    """A placed call's snapshot while the call rings; None once it ended (it was deleted)."""
    call_id = body.get("call_id")
    if body.get("outcome") != "placed" or call_snapshot is None or not isinstance(call_id, str):
        return None
    jpeg = call_snapshot(call_id)
    if jpeg is None:
        return None
    if len(jpeg) > max_bytes:
        return {"content_type": "image/jpeg", "bytes": len(jpeg), "truncated": True, "data": None}
    data = base64.b64encode(jpeg).decode("ascii")
    return {"content_type": "image/jpeg", "bytes": len(jpeg), "truncated": False, "data": data}


def build_message(
    session: Session,
    row: OutboxMessage,
    topics: Topics,
    *,
    max_snapshot_bytes: int,
    replayed: bool = False,
    call_snapshot: CallSnapshot | None = None,
) -> OutgoingMessage:
    body = dict(row.payload)
    if row.topic == "alert":
        body["snapshot"] = _snapshot(session, body, max_snapshot_bytes)
    if row.topic == VISITOR_CALL_TOPIC:
        body["snapshot"] = _call_snapshot(body, call_snapshot, max_snapshot_bytes)
    event_id = body.get("event_id")
    message_id = (
        event_id
        if row.topic in ("access_event", VISITOR_CALL_TOPIC) and isinstance(event_id, str)
        else stable_uuid7(row.created_at, row.gateway_id, row.seq)
    )
    envelope = {
        "v": ENVELOPE_VERSION,
        "id": message_id,
        "seq": row.seq,
        "site": topics.site,
        "gateway": topics.gateway,
        "type": row.topic,
        "created_at": row.created_at.isoformat(),
        "replayed": replayed,
        "body": body,
    }
    payload = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return OutgoingMessage(row.seq, message_topic(topics, row.topic, body), payload, message_id)
