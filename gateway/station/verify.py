"""Pure verification of a station command: the whole door-open trust decision, in one function.

`verify_command` takes the raw MQTT message (payload bytes, topic's command name, retain flag),
the station's public key, who we are and the time; it returns a `VerifiedCommand` or a `Refusal`.
It touches no state: the nonce cache (`NonceCache`) is consulted after it, so a forged command can
never fill the cache. Checks, in order: not retained, size (the sync commands may be up to
`max_bytes`, every other command only `max_small_bytes`) and JSON nesting depth *before* the
payload is parsed (`json_guard`), JSON shape, a key is configured, Ed25519 signature over
canonical_bytes(command), version (the integer 1: `true` and `1.0` are not), well-formed fields
and requester (`requester.parse_requester`), addressed to this site/gateway and to the topic's
command name, issued_at not in the future (beyond skew), not expired, lifetime bounded.

A `Refusal` says whether it was `authenticated`: refusals before the signature verified can be
sent by anyone who reaches the broker, so the link rate-limits their results and the outbox may
compact them.
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

from gateway.access.requester import Requester, parse_requester
from gateway.station.canonical import canonical_bytes
from gateway.station.json_guard import nesting_exceeds
from gateway.station.keys import COMMAND_VERSION

NONCE_PATTERN = re.compile(r"^[0-9a-f]{32,64}$")
UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# the only commands whose payload may be large (people and watch-list deltas carry templates)
LARGE_COMMANDS = frozenset({"sync_people", "sync_watchlist"})


@dataclass(frozen=True)
class VerifiedCommand:
    """A command whose signature, target and time window checked out (nonce not yet)."""

    command_id: str
    name: str
    issued_by: str
    requester: Requester
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
    authenticated: bool = False  # True once the station's signature verified


@dataclass(frozen=True)
class Expectation:
    """What a valid command must match: our identity, the key, and the size and time limits."""

    site: str
    gateway: str
    public_key: Ed25519PublicKey | None
    max_bytes: int  # sync_people / sync_watchlist
    max_lifetime: timedelta
    clock_skew: timedelta
    max_small_bytes: int = 65536  # every other command
    max_depth: int = 32  # JSON nesting of the whole payload

    def size_limit(self, topic_command: str) -> int:
        """The largest payload accepted on this command's topic (known before parsing)."""
        return self.max_bytes if topic_command in LARGE_COMMANDS else self.max_small_bytes


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
    limit = expect.size_limit(topic_command)
    if len(payload) > limit:
        message = f"a {topic_command!r} command is at most {limit} bytes"
        return Refusal("too_large", message, name=topic_command)
    if nesting_exceeds(payload, expect.max_depth):
        message = f"JSON nested deeper than {expect.max_depth} levels"
        return Refusal("malformed", message, name=topic_command)
    try:
        envelope = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
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
    version = command.get("v")
    if (
        type(version) is not int  # JSON true and 1.0 compare equal to 1 in Python
        or version != COMMAND_VERSION
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
        return Refusal("malformed", "command fields missing or invalid", command_id, name, True)
    requester = parse_requester(issued_by)
    if requester is None:
        return Refusal(
            "bad_requester",
            "issued_by must be 'station', 'station:<operator>' or 'resident:<external id>'",
            command_id,
            name,
            True,
        )
    refusal = _check_window(command, name, topic_command, issued_at, expires_at, expect, now)
    if refusal is not None:
        return refusal
    return VerifiedCommand(
        command_id, name, issued_by, requester, issued_at, expires_at, nonce, args
    )


def _check_window(
    command: dict[str, Any],
    name: str,
    topic_command: str,
    issued_at: datetime,
    expires_at: datetime,
    expect: Expectation,
    now: datetime,
) -> Refusal | None:
    command_id = command["id"]
    if name != topic_command:
        message = f"a {name!r} command on the {topic_command!r} topic"
        return Refusal("wrong_topic", message, command_id, name, True)
    if command.get("site") != expect.site or command.get("gateway") != expect.gateway:
        message = "command is addressed to another gateway"
        return Refusal("wrong_target", message, command_id, name, True)
    if issued_at > now + expect.clock_skew:
        return Refusal("not_yet_valid", "issued_at is in the future", command_id, name, True)
    if expires_at <= now:
        message = f"command expired at {expires_at.isoformat()}"
        return Refusal("expired", message, command_id, name, True)
    if expires_at - issued_at > expect.max_lifetime or expires_at - now > expect.max_lifetime:
        return Refusal("lifetime_too_long", "expiry is too far ahead", command_id, name, True)
    return None
