"""Incoming MQTT messages -> typed records, or a rejection reason (counted, never stored).

The topic says which gateway sent it (the broker's ACL lets a gateway write only its own
topics); an envelope whose site/gateway differ from its topic is refused, as is anything that
is not the contract's JSON. Leaves: availability, status, telemetry, events/<kind>,
cmd_result/<name> (see docs/mqtt.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024


class Rejected(ValueError):
    """A message that does not follow the contract; the text says why."""


@dataclass(frozen=True)
class Envelope:
    """One events/* or cmd_result/* message."""

    id: str
    seq: int
    site: str
    gateway: str
    type: str
    created_at: datetime
    replayed: bool
    body: dict[str, Any]

    def occurred_at(self) -> datetime:
        value = self.body.get("occurred_at") or self.body.get("at")
        parsed = _time(value) if isinstance(value, str) else None
        return parsed or self.created_at

    def snapshot(self) -> tuple[bytes | None, bool]:
        """(JPEG bytes or None, truncated) of an alert."""
        snap = self.body.get("snapshot")
        if not isinstance(snap, dict):
            return None, False
        data = snap.get("data")
        if not isinstance(data, str):
            return None, bool(snap.get("truncated"))
        try:
            jpeg = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as error:
            raise Rejected("alert snapshot is not base64") from error
        if len(jpeg) > MAX_SNAPSHOT_BYTES:
            raise Rejected("alert snapshot too large")
        return jpeg, False


@dataclass(frozen=True)
class GatewayMessage:
    """availability / status / telemetry of one gateway."""

    site: str
    gateway: str
    leaf: str
    payload: dict[str, Any] | str


def _time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def split_topic(prefix: str, topic: str) -> tuple[str, str, str]:
    """(site, gateway, leaf) of a topic under the prefix."""
    head = prefix + "/"
    if not topic.startswith(head):
        raise Rejected("topic outside the prefix")
    parts = topic[len(head) :].split("/", 2)
    if len(parts) != 3:
        raise Rejected("topic has no leaf")
    return parts[0], parts[1], parts[2]


def parse(prefix: str, topic: str, payload: bytes) -> Envelope | GatewayMessage:
    site, gateway, leaf = split_topic(prefix, topic)
    if leaf == "availability":
        text = payload.decode("utf-8", errors="replace")
        if text not in ("online", "offline"):
            raise Rejected("availability is neither online nor offline")
        return GatewayMessage(site, gateway, leaf, text)
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise Rejected("payload is not JSON") from error
    if not isinstance(document, dict):
        raise Rejected("payload is not a JSON object")
    if leaf in ("status", "telemetry"):
        if document.get("site") != site or document.get("gateway") != gateway:
            raise Rejected(f"{leaf} names another gateway than its topic")
        return GatewayMessage(site, gateway, leaf, document)
    if leaf.startswith("events/") or leaf.startswith("cmd_result/"):
        return _envelope(document, site, gateway)
    raise Rejected(f"unknown leaf {leaf!r}")


def _envelope(document: dict[str, Any], site: str, gateway: str) -> Envelope:
    message_id, seq, created = document.get("id"), document.get("seq"), document.get("created_at")
    body, kind = document.get("body"), document.get("type")
    if document.get("site") != site or document.get("gateway") != gateway:
        raise Rejected("envelope names another gateway than its topic")
    if not isinstance(message_id, str) or not ID_PATTERN.match(message_id):
        raise Rejected("envelope id is not a UUIDv7")
    if type(seq) is not int or seq < 1:
        raise Rejected("envelope seq is not a positive integer")
    created_at = _time(created) if isinstance(created, str) else None
    if created_at is None:
        raise Rejected("envelope created_at is not a time with a zone")
    if not isinstance(body, dict) or not isinstance(kind, str) or len(kind) > 32:
        raise Rejected("envelope has no body or type")
    return Envelope(
        message_id, seq, site, gateway, kind, created_at, document.get("replayed") is True, body
    )
