"""Bad input from the broker is refused with a reason (counted by the ingest, never stored), and
station.toml refuses unknown keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from station_console.config import load_config
from station_console.messages import Envelope, GatewayMessage, Rejected, parse

PREFIX = "menwei/v1"
ID = "01a23136-444c-7a49-b19d-2abe2cf660ed"


def envelope(**changes: object) -> bytes:
    document = {
        "v": 1,
        "id": ID,
        "seq": 7,
        "site": "site-a",
        "gateway": "gw-1",
        "type": "alert",
        "created_at": "2026-11-02T02:00:00+00:00",
        "replayed": False,
        "body": {"kind": "tailgating", "snapshot": {"data": "/9j/", "truncated": False}},
    } | changes
    return json.dumps(document).encode()


def test_a_well_formed_alert_parses_with_its_snapshot() -> None:
    parsed = parse(PREFIX, f"{PREFIX}/site-a/gw-1/events/alert", envelope())
    assert isinstance(parsed, Envelope) and parsed.seq == 7
    assert parsed.snapshot() == (b"\xff\xd8\xff", False)


@pytest.mark.parametrize(
    ("topic", "payload", "why"),
    [
        (f"{PREFIX}/site-a/gw-2/events/alert", envelope(), "another gateway"),
        (f"{PREFIX}/site-a/gw-1/events/alert", b"\xff not json", "not JSON"),
        (f"{PREFIX}/site-a/gw-1/events/alert", envelope(id="1234"), "UUIDv7"),
        (f"{PREFIX}/site-a/gw-1/events/alert", envelope(seq=True), "seq"),
        (f"{PREFIX}/site-a/gw-1/events/alert", envelope(created_at="2026-11-02"), "zone"),
        (f"{PREFIX}/site-a/gw-1/availability", b"maybe", "online nor offline"),
        ("other/site-a/gw-1/events/alert", envelope(), "prefix"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(topic: str, payload: bytes, why: str) -> None:
    with pytest.raises(Rejected, match=why):
        parse(PREFIX, topic, payload)


def test_a_snapshot_that_is_not_base64_is_refused() -> None:
    bad = envelope(body={"kind": "x", "snapshot": {"data": "***", "truncated": False}})
    parsed = parse(PREFIX, f"{PREFIX}/site-a/gw-1/events/alert", bad)
    assert isinstance(parsed, Envelope)
    with pytest.raises(Rejected, match="base64"):
        parsed.snapshot()


def test_an_alert_whose_snapshot_is_not_base64_is_stored_without_it() -> None:
    """A bad image must not stop the ingest (the worker thread used to die on it)."""
    from datetime import UTC, datetime

    from station_console.writer import _alert_row

    bad = envelope(body={"kind": "tailgating", "snapshot": {"data": "***", "truncated": False}})
    parsed = parse(PREFIX, f"{PREFIX}/site-a/gw-1/events/alert", bad)
    assert isinstance(parsed, Envelope)
    row = _alert_row(parsed, datetime.now(UTC))
    assert row["kind"] == "tailgating" and row["snapshot"] is None


def test_availability_and_telemetry_parse() -> None:
    online = parse(PREFIX, f"{PREFIX}/site-a/gw-1/availability", b"online")
    assert isinstance(online, GatewayMessage) and online.payload == "online"
    with pytest.raises(Rejected, match="another gateway"):
        parse(PREFIX, f"{PREFIX}/site-a/gw-1/telemetry", b'{"site": "site-a", "gateway": "x"}')


def test_station_toml_refuses_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text('[broker]\nhost = "10.0.0.2"\n[gateways.buildings]\n"site-a/gw-1" = "3号楼"\n')
    config = load_config(path)
    assert config.broker.host == "10.0.0.2"
    assert config.gateways.building_of("site-a", "gw-1") == "3号楼"
    path.write_text('[broker]\nhots = "10.0.0.2"\n')
    with pytest.raises(ValidationError, match="hots"):
        load_config(path)
