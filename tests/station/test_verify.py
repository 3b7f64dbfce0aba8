"""Pure command verification and the nonce cache: every refusal path, no broker needed."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from gateway.access.requester import Requester, parse_requester
from gateway.station.canonical import canonical_bytes
from gateway.station.json_guard import nesting_exceeds
from gateway.station.keys import load_public_key, make_command, public_key_b64, sign_command
from gateway.station.nonces import NonceCache
from gateway.station.verify import Expectation, Refusal, VerifiedCommand, verify_command
from tests.station.events import T0

KEY = Ed25519PrivateKey.generate()
EXPECT = Expectation(
    site="site-a",
    gateway="gw-1",
    public_key=load_public_key(public_key_b64(KEY)),
    max_bytes=65536,
    max_lifetime=timedelta(seconds=300),
    clock_skew=timedelta(seconds=30),
)


def signed(key: Ed25519PrivateKey = KEY, **changes: Any) -> dict[str, Any]:
    command = make_command(
        name="open", site="site-a", gateway="gw-1", args={}, issued_by="resident:42", now=T0
    )
    command.update(changes)
    return sign_command(key, command)


def check(envelope: Any, *, retained: bool = False, at: Any = T0, topic: str = "open") -> Any:
    payload = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
    return verify_command(payload, topic_command=topic, retained=retained, expect=EXPECT, now=at)


def error_of(result: Any) -> str:
    assert isinstance(result, Refusal), result
    return result.error


def test_a_valid_command_verifies_with_its_fields() -> None:
    result = check(signed())
    assert isinstance(result, VerifiedCommand)
    assert result.name == "open" and result.issued_by == "resident:42"
    assert result.expires_at == T0 + timedelta(seconds=60)


@pytest.mark.parametrize(
    ("envelope", "kwargs", "error"),
    [
        (signed(), {"retained": True}, "retained"),
        (signed(Ed25519PrivateKey.generate()), {}, "bad_signature"),
        ({"command": signed()["command"]}, {}, "unsigned"),
        ({"command": signed()["command"], "signature": ""}, {}, "unsigned"),
        ({"command": signed()["command"], "signature": "!!notbase64"}, {}, "bad_signature"),
        (signed(), {"at": T0 + timedelta(seconds=61)}, "expired"),
        (signed(), {"at": T0 - timedelta(seconds=31)}, "not_yet_valid"),
        (signed(), {"topic": "snapshot"}, "wrong_topic"),
        (signed(gateway="gw-2"), {}, "wrong_target"),
        (signed(site="site-b"), {}, "wrong_target"),
        (signed(expires_at=(T0 + timedelta(hours=2)).isoformat()), {}, "lifetime_too_long"),
        (signed(nonce="short"), {}, "malformed"),
        (signed(expires_at="2026-11-02T02:01:00"), {}, "malformed"),  # no time zone
        (signed(v=2), {}, "malformed"),
        (b"not json", {}, "malformed"),
        ({"nothing": 1}, {}, "malformed"),
        (b"x" * 70000, {}, "too_large"),
    ],
)
def test_refusals(envelope: Any, kwargs: dict[str, Any], error: str) -> None:
    assert error_of(check(envelope, **kwargs)) == error


def test_a_tampered_argument_breaks_the_signature() -> None:
    envelope = signed()
    envelope["command"]["args"] = {"door": "other"}
    assert error_of(check(envelope)) == "bad_signature"


def test_without_a_configured_key_every_command_is_refused() -> None:
    expect = Expectation("site-a", "gw-1", None, 65536, timedelta(seconds=300), timedelta(0))
    result = verify_command(
        json.dumps(signed()).encode(), topic_command="open", retained=False, expect=expect, now=T0
    )
    assert error_of(result) == "no_station_key"


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=6))
def test_canonical_bytes_ignore_key_order(value: dict[str, Any]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_bytes(value) == canonical_bytes(reordered)


def test_nonce_cache_refuses_replays_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "nonces.db"
    cache = NonceCache(path, 100, timedelta(seconds=30))
    expires = T0 + timedelta(seconds=60)
    assert cache.claim("a" * 32, "id-1", expires, T0).status == "fresh"
    assert cache.claim("a" * 32, "id-2", expires, T0).status == "seen"
    assert cache.claim("b" * 32, "id-1", expires, T0).status == "seen"  # same command id
    cache.close()
    reopened = NonceCache(path, 100, timedelta(seconds=30))
    assert reopened.claim("a" * 32, "id-1", expires, T0 + timedelta(seconds=10)).status == "seen"
    # forgotten only after expiry + skew, when verify_command refuses it as expired anyway
    later = T0 + timedelta(seconds=91)
    assert reopened.claim("a" * 32, "id-1", later + timedelta(seconds=60), later).status == "fresh"
    reopened.close()


def test_a_full_nonce_cache_refuses_instead_of_evicting(tmp_path: Path) -> None:
    cache = NonceCache(tmp_path / "n.db", 100, timedelta(0))
    expires = T0 + timedelta(seconds=60)
    for index in range(100):
        assert cache.claim(f"{index:032x}", f"id-{index}", expires, T0).status == "fresh"
    assert cache.claim("f" * 32, "id-new", expires, T0).status == "full"
    assert cache.claim(f"{0:032x}", "id-0", expires, T0).status == "seen"  # still remembered
    assert (
        cache.claim(
            "f" * 32, "id-new", expires + timedelta(seconds=61), expires + timedelta(seconds=1)
        ).status
        == "fresh"
    )
    cache.close()


@pytest.mark.parametrize("version", [True, 1.0, "1", 1.5, None, [1]])
def test_the_version_must_be_the_integer_1(version: Any) -> None:
    """Issue 12.12: `v: true` and `v: 1.0` compared equal to 1 in Python and passed."""
    assert error_of(check(signed(v=version))) == "malformed"


@pytest.mark.parametrize(
    ("issued_by", "expected"),
    [
        ("station", Requester.station()),
        ("station:duty-officer", Requester.station("duty-officer")),
        ("resident:R-0002", Requester.resident("R-0002")),
        ("resident:王-1:2", Requester.resident("王-1:2")),
    ],
)
def test_requesters_that_parse(issued_by: str, expected: Requester) -> None:
    result = check(signed(issued_by=issued_by))
    assert isinstance(result, VerifiedCommand)
    assert result.requester == expected and str(result.requester) == issued_by


@pytest.mark.parametrize(
    "issued_by",
    [
        "R-0002",
        "resident:",
        "resident",
        "Resident:R-1",
        "resident:R 1",
        "resident:R-1\n",
        " station",
        "station:",
        "operator:x",
        "resident:" + "x" * 65,
        "resident:\x00",
    ],
)
def test_requesters_that_do_not_parse_are_refused(issued_by: str) -> None:
    assert parse_requester(issued_by) is None
    assert error_of(check(signed(issued_by=issued_by))) == "bad_requester"


def test_size_is_checked_per_command_before_parsing() -> None:
    expect = dataclasses.replace(EXPECT, max_bytes=200_000, max_small_bytes=4096)
    big_args = {"upserts": ["x" * 70000]}

    def verify(envelope: dict[str, Any], topic: str) -> Any:
        payload = json.dumps(envelope).encode()
        return verify_command(payload, topic_command=topic, retained=False, expect=expect, now=T0)

    assert error_of(verify(signed(args=big_args), "open")) == "too_large"  # an open is small
    sync = verify(signed(name="sync_people", args=big_args), "sync_people")
    assert isinstance(sync, VerifiedCommand)  # a sync delta may be large
    too_big = signed(name="sync_people", args={"x": "y" * 300_000})
    assert error_of(verify(too_big, "sync_people")) == "too_large"


@pytest.mark.parametrize("depth", [33, 1000, 30000])
def test_deep_nesting_is_refused_before_parsing(depth: int) -> None:
    """Issue 12.8: deep nesting raised RecursionError in json.loads, and no result was sent."""
    payload = b'{"command": ' + b"[" * depth + b"]" * depth + b"}"
    refusal = check(payload, topic="sync_people")
    assert isinstance(refusal, Refusal) and refusal.error == "malformed"
    assert "nested" in refusal.message


def test_nesting_inside_strings_is_not_nesting() -> None:
    text = json.dumps({"a": ["[[[[" * 100, '\\"{{{{"' * 100], "b": {"c": [[1]]}}).encode()
    assert not nesting_exceeds(text, 4)
    assert nesting_exceeds(text, 3)  # {"b": {"c": [[ is four levels
    deep = json.dumps(json.loads("[" * 40 + "]" * 40)).encode()
    assert nesting_exceeds(deep, 39) and not nesting_exceeds(deep, 40)
