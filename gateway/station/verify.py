"""Pure verification of a station command: the whole door-open trust decision, in one function.

`verify_command` takes the raw MQTT message (payload bytes, topic's command name, retain flag),
the station's public key, who we are and the time; it returns a `VerifiedCommand` or a `Refusal`.
It touches no state: the nonce cache (`NonceCache`) is consulted after it, so a forged command can
never fill the cache. Checks, in order: not retained, size, JSON shape, a key is configured,
Ed25519 signature over canonical_bytes(command), version, addressed to this site/gateway and to
the topic's command name, issued_at not in the future (beyond skew), not expired, lifetime bounded.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.station.canonical import canonical_bytes
from gateway.station.keys import COMMAND_VERSION

NONCE_PATTERN = re.compile(r"^[0-9a-f]{32,64}$")
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class VerifiedCommand:
    """A command whose signature, target and time window checked out (nonce not yet)."""

    command_id: str
    name: str
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    nonce: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Refusal:
    """Why a command was refused; `command_id`/`name` are echoed when they could be read."""

    error: str
    message: str
    command_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Expectation:
    """What a valid command must match: our identity, the key, and the time limits."""

    site: str
    gateway: str
    public_key: Ed25519PublicKey | None
    max_bytes: int
    max_lifetime: timedelta
    clock_skew: timedelta


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _peek(command: object, key: str) -> str | None:
    if isinstance(command, dict):
        value = command.get(key)
        return value if isinstance(value, str) else None
    return None


def verify_command(
    payload: bytes,
    *,
    topic_command: str,
    retained: bool,
    expect: Expectation,
    now: datetime,
) -> VerifiedCommand | Refusal:
    """Verify one command message; see the module docstring for the checks."""
    if len(payload) > expect.max_bytes:
        return Refusal("too_large", f"command is larger than {expect.max_bytes} bytes")
    try:
        envelope = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        envelope = None
    if retained:  # the id is only echoed so the station can match the refusal
        peeked = _peek(envelope.get("command"), "id") if isinstance(envelope, dict) else None
        return Refusal("retained", "retained commands are never executed", peeked, topic_command)
    if envelope is None:
        return Refusal("malformed", "payload is not JSON", name=topic_command)
    if not isinstance(envelope, dict) or not isinstance(envelope.get("command"), dict):
        return Refusal("malformed", "payload has no command object", name=topic_command)
    command: dict[str, Any] = envelope["command"]
    command_id, name = _peek(command, "id"), _peek(command, "name") or topic_command
    signature_b64 = envelope.get("signature")
    if not isinstance(signature_b64, str) or not signature_b64:
        return Refusal("unsigned", "command carries no signature", command_id, name)
    if expect.public_key is None:
        return Refusal("no_station_key", "no station public key configured", command_id, name)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        expect.public_key.verify(signature, canonical_bytes(command))
    except (InvalidSignature, binascii.Error, ValueError):
        return Refusal("bad_signature", "signature does not verify", command_id, name)
    return _check_signed(command, topic_command, expect, now)


def _check_signed(
    command: dict[str, Any], topic_command: str, expect: Expectation, now: datetime
) -> VerifiedCommand | Refusal:
    command_id, name = _peek(command, "id"), _peek(command, "name")
    issued_at = _parse_time(command.get("issued_at"))
    expires_at = _parse_time(command.get("expires_at"))
    nonce, issued_by, args = command.get("nonce"), command.get("issued_by"), command.get("args")
    if (
        command.get("v") != COMMAND_VERSION
        or command_id is None
        or not UUID_PATTERN.match(command_id)
        or name is None
        or issued_at is None
        or expires_at is None
        or not isinstance(nonce, str)
        or not NONCE_PATTERN.match(nonce)
        or not isinstance(issued_by, str)
        or not 0 < len(issued_by) <= 128
        or not isinstance(args, dict)
    ):
        return Refusal("malformed", "command fields missing or invalid", command_id, name)
    if name != topic_command:
        return Refusal(
            "wrong_topic", f"a {name!r} command on the {topic_command!r} topic", command_id, name
        )
    if command.get("site") != expect.site or command.get("gateway") != expect.gateway:
        return Refusal("wrong_target", "command is addressed to another gateway", command_id, name)
    if issued_at > now + expect.clock_skew:
        return Refusal("not_yet_valid", "issued_at is in the future", command_id, name)
    if expires_at <= now:
        return Refusal("expired", f"command expired at {expires_at.isoformat()}", command_id, name)
    if expires_at - issued_at > expect.max_lifetime or expires_at - now > expect.max_lifetime:
        return Refusal("lifetime_too_long", "expiry is too far ahead", command_id, name)
    return VerifiedCommand(command_id, name, issued_by, issued_at, expires_at, nonce, args)
