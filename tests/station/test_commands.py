"""Commands over the real broker: a forged, retained, replayed or expired `open` never reaches the
door callback and is answered with an error result; the other commands do what they say."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from gateway.access.requester import Requester
from gateway.application.delta_sync import encode_vector
from gateway.application.remote_open import OpenOutcome, RemoteOpen
from gateway.application.visitor_codes import MAX_USES
from gateway.station.commands import StationCallbacks
from gateway.station.keys import make_command, sign_command
from gateway.station.link import StationLink
from gateway.station.station_client import Received, StationClient
from gateway.station.topics import Topics
from gateway.store.schema_credentials import VisitorCode, WatchlistEntry
from gateway.store.schema_events import OutboxMessage
from gateway.store.store import Store
from gateway.store.watchlist import sync_version
from tests.station.broker import GATEWAY, PREFIX, SITE, MosquittoBroker
from tests.station.conftest import MODEL_ID, collect, gateway_config, validate_received

TOPICS = Topics(PREFIX, SITE, GATEWAY)


@dataclass
class FakeRuntime:
    opens: list[RemoteOpen] = field(default_factory=list)
    allow: bool = True
    config: dict[str, Any] = field(default_factory=lambda: {"door.unlock_ms": 3000})
    watchlist_reloads: int = 0

    def on_remote_open(self, request: RemoteOpen) -> OpenOutcome:
        self.opens.append(request)
        return OpenOutcome(self.allow, "remote_open" if self.allow else "outside_schedule")

    def view(self) -> dict[str, Any]:
        return dict(self.config)

    def update(self, changes: Any) -> dict[str, Any]:
        if changes.get("door.unlock_ms", 1) <= 0:
            raise ValueError("unlock_ms must be positive")
        self.config.update(changes)
        return dict(self.config)

    def reload_watchlist(self) -> None:
        self.watchlist_reloads += 1

    def callbacks(self) -> StationCallbacks:
        return StationCallbacks(
            on_remote_open=self.on_remote_open,
            status=lambda: {"door": {"lock_state": "LOCKED"}, "health": {"camera": "ok"}},
            take_snapshot=lambda: b"\xff\xd8\xff\xd9",
            config=self,
            on_watchlist_changed=self.reload_watchlist,
        )


@dataclass
class Harness:
    broker: MosquittoBroker
    station: StationClient
    store: Store
    door_id: int
    key: Ed25519PrivateKey
    folder: Path
    runtime: FakeRuntime
    link: StationLink | None = None
    seen: list[Received] = field(default_factory=list)

    def start_link(self) -> StationLink:
        self.link = StationLink(
            gateway_config(self.broker, self.folder, self.key),
            self.store,
            site_id=SITE,
            gateway_id=GATEWAY,
            door_id=self.door_id,
            model_id=MODEL_ID,
            callbacks=self.runtime.callbacks(),
        )
        self.link.start()
        assert self.link.wait_connected(30)
        return self.link

    def stop_link(self) -> None:
        if self.link is not None:
            self.link.stop()
            self.link = None

    def send(self, name: str, args: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return self.station.send_command(
            self.key,
            site=SITE,
            gateway=GATEWAY,
            name=name,
            args=args,
            issued_by="station:test",
            **kwargs,
        )

    def result_for(self, command_id: str | None, name: str = "open") -> dict[str, Any]:
        def matching(messages: list[Received]) -> list[dict[str, Any]]:
            return [
                m.json()["body"]
                for m in messages
                if m.topic == TOPICS.result(name) and m.json()["body"]["command_id"] == command_id
            ]

        collect(self.station, lambda got: bool(matching(got)), into=self.seen)
        validate_received(next(m for m in self.seen if m.topic == TOPICS.result(name)))
        found = matching(self.seen)
        self.seen[:] = [
            m
            for m in self.seen
            if m.topic != TOPICS.result(name) or m.json()["body"]["command_id"] != command_id
        ]
        return found[0]


@pytest.fixture
def harness(
    broker: MosquittoBroker,
    station: StationClient,
    store_and_door: tuple[Store, int],
    station_key: Ed25519PrivateKey,
    tmp_path: Path,
) -> Iterator[Harness]:
    store, door_id = store_and_door
    h = Harness(broker, station, store, door_id, station_key, tmp_path / "gw", FakeRuntime())
    yield h
    h.stop_link()


def test_a_signed_open_reaches_the_callback_once(harness: Harness) -> None:
    harness.start_link()
    envelope = harness.send("open", {})
    result = harness.result_for(envelope["command"]["id"])
    assert result["ok"] and result["error"] is None
    [request] = harness.runtime.opens
    assert request.command_id == envelope["command"]["id"]
    assert request.requested_by == Requester.station("test")
    assert request.expires_at == datetime.fromisoformat(envelope["command"]["expires_at"])


def test_replayed_open_is_refused_even_after_a_restart(harness: Harness) -> None:
    harness.start_link()
    envelope = harness.send("open", {})
    command_id = envelope["command"]["id"]
    assert harness.result_for(command_id)["ok"]
    raw = json.dumps(envelope).encode()
    harness.station.publish_raw(TOPICS.command("open"), raw)
    assert harness.result_for(command_id)["error"] == "replayed"
    harness.stop_link()
    harness.start_link()
    harness.station.publish_raw(TOPICS.command("open"), raw)
    assert harness.result_for(command_id)["error"] == "replayed"
    assert len(harness.runtime.opens) == 1


def test_retained_open_is_refused_and_never_opens(harness: Harness) -> None:
    command = make_command(
        name="open",
        site=SITE,
        gateway=GATEWAY,
        args={},
        issued_by="station:test",
        now=datetime.now(UTC),
    )
    envelope = sign_command(harness.key, command)
    harness.station.publish_raw(TOPICS.command("open"), json.dumps(envelope).encode(), retain=True)
    try:
        harness.start_link()  # subscribes after the retained message was stored
        result = harness.result_for(command["id"])
    finally:
        harness.station.publish_raw(TOPICS.command("open"), b"", retain=True)
    assert result["error"] == "retained"
    assert harness.runtime.opens == []


@pytest.mark.parametrize("case", ["expired", "wrong_key", "unsigned", "tampered"])
def test_forged_or_stale_open_is_refused(harness: Harness, case: str) -> None:
    harness.start_link()
    now = datetime.now(UTC)
    key = Ed25519PrivateKey.generate() if case == "wrong_key" else harness.key
    command = make_command(
        name="open",
        site=SITE,
        gateway=GATEWAY,
        args={},
        issued_by="station:test",
        now=now - timedelta(seconds=120) if case == "expired" else now,
    )
    envelope: dict[str, Any] = sign_command(key, command)
    if case == "unsigned":
        del envelope["signature"]
    if case == "tampered":
        envelope["command"]["issued_by"] = "someone-else"
    harness.station.publish_raw(TOPICS.command("open"), json.dumps(envelope).encode())
    result = harness.result_for(command["id"])
    expected = {
        "expired": "expired",
        "wrong_key": "bad_signature",
        "unsigned": "unsigned",
        "tampered": "bad_signature",
    }[case]
    assert (result["ok"], result["error"]) == (False, expected)
    assert harness.runtime.opens == []


def test_the_runtime_may_still_refuse_an_open(harness: Harness) -> None:
    harness.runtime.allow = False
    harness.start_link()
    envelope = harness.send("open", {})
    result = harness.result_for(envelope["command"]["id"])
    assert (result["ok"], result["error"], result["message"]) == (
        False,
        "open_denied",
        "outside_schedule",
    )


def test_visitor_codes_config_and_snapshot_commands(harness: Harness) -> None:
    harness.start_link()
    now = datetime.now(UTC)
    unit = {"building": "1", "unit_number": "1", "room_number": "101"}
    window = {"unit": unit, "valid_until": (now + timedelta(hours=2)).isoformat()}

    def issue(args: dict[str, Any]) -> dict[str, Any]:
        return harness.result_for(harness.send("issue_code", args)["command"]["id"], "issue_code")

    issued = issue({**window, "code": "482913", "max_uses": 2})
    assert issued["ok"] and set(issued["data"]) == {"code_id"}  # the plain code is not echoed
    assert issue({**window, "code": "482913"})["error"] == "code_rejected"  # already live
    assert issue(window)["error"] == "malformed"  # the station must choose the code
    over_cap = issue({**window, "code": "555001", "max_uses": MAX_USES + 1})
    assert over_cap["error"] == "malformed"  # the cap the staff page and the API share
    with harness.store.sessions.reading() as session:
        code_hash = harness.store.codes.hash(SITE, "482913")
        assert session.scalar(select(VisitorCode.id).where(VisitorCode.code_hash == code_hash))
        outbox = [json.dumps(row.payload) for row in session.scalars(select(OutboxMessage))]
    assert not any("482913" in payload for payload in outbox)
    code_id = issued["data"]["code_id"]
    revoked = harness.result_for(
        harness.send("revoke_code", {"code_id": code_id})["command"]["id"], "revoke_code"
    )
    assert revoked["ok"]
    with harness.store.sessions.reading() as session:
        assert session.get(VisitorCode, code_id).revoked  # type: ignore[union-attr]
    unknown = harness.result_for(
        harness.send(
            "issue_code",
            {**window, "code": "1234", "unit": {**unit, "room_number": "999"}},
        )["command"]["id"],
        "issue_code",
    )
    assert unknown["error"] == "unknown_unit"

    got = harness.result_for(harness.send("get_config", {})["command"]["id"], "get_config")
    assert got["data"]["config"] == {"door.unlock_ms": 3000}
    bad_key = harness.result_for(
        harness.send("set_config", {"changes": {"store.url": "sqlite://"}})["command"]["id"],
        "set_config",
    )
    assert bad_key["error"] == "not_settable"
    bad_value = harness.result_for(
        harness.send("set_config", {"changes": {"door.unlock_ms": -1}})["command"]["id"],
        "set_config",
    )
    assert bad_value["error"] == "invalid_value"
    changed = harness.result_for(
        harness.send("set_config", {"changes": {"door.unlock_ms": 5000}})["command"]["id"],
        "set_config",
    )
    assert changed["ok"] and harness.runtime.config["door.unlock_ms"] == 5000

    snap = harness.result_for(harness.send("snapshot", {})["command"]["id"], "snapshot")
    assert snap["ok"] and snap["data"]["bytes"] == 4


def test_watchlist_sync_is_versioned_and_refuses_other_models(harness: Harness) -> None:
    harness.start_link()
    vector = encode_vector(np.ones(8, np.float32))
    entry = {"external_id": "w-1", "category": "wanted", "model_id": MODEL_ID, "vector": vector}
    other = {**entry, "external_id": "w-2", "model_id": "other-model"}
    mixed = harness.send(
        "sync_watchlist", {"from_version": 0, "version": 1, "upserts": [entry, other]}
    )
    assert harness.result_for(mixed["command"]["id"], "sync_watchlist")["error"] == "model_mismatch"
    with harness.store.sessions.reading() as session:
        assert session.scalars(select(WatchlistEntry)).all() == []  # nothing applied
    good = harness.send("sync_watchlist", {"from_version": 0, "version": 1, "upserts": [entry]})
    assert harness.result_for(good["command"]["id"], "sync_watchlist")["ok"]
    gap = harness.send("sync_watchlist", {"from_version": 2, "version": 3, "removes": ["w-1"]})
    assert harness.result_for(gap["command"]["id"], "sync_watchlist")["error"] == "version_gap"
    stale = harness.send("sync_watchlist", {"from_version": 1, "version": 1, "removes": ["w-1"]})
    assert harness.result_for(stale["command"]["id"], "sync_watchlist")["error"] == "stale_version"
    remove = harness.send("sync_watchlist", {"from_version": 1, "version": 2, "removes": ["w-1"]})
    assert harness.result_for(remove["command"]["id"], "sync_watchlist")["data"]["removed"] == 1
    with harness.store.sessions.reading() as session:
        assert sync_version(session, "watchlist") == 2
        assert session.scalars(select(WatchlistEntry)).all() == []
    assert harness.runtime.watchlist_reloads == 2


def test_people_sync_over_the_broker(harness: Harness) -> None:
    from tests.station.people_delta import people_delta

    harness.start_link()
    sent = harness.send("sync_people", people_delta(50, 1, "resident"))
    result = harness.result_for(sent["command"]["id"], "sync_people")
    assert result["ok"] and result["data"]["upserted"] == 50
    again = harness.send("sync_people", people_delta(50, 1, "resident"))
    assert harness.result_for(again["command"]["id"], "sync_people")["error"] == "stale_version"
    with harness.store.sessions.reading() as session:
        assert sync_version(session, "people") == 1


def test_status_reports_the_runtime_door_state(harness: Harness) -> None:
    harness.start_link()

    def status_with_door(messages: list[Received]) -> bool:
        return any(
            m.topic == TOPICS.status and m.json()["door"]["lock_state"] == "LOCKED"
            for m in messages
        )

    got = collect(harness.station, status_with_door)
    status = validate_received(next(m for m in reversed(got) if m.topic == TOPICS.status))
    assert status["health"] == {"camera": "ok"} and status["model_id"] == MODEL_ID


def test_an_open_that_expired_while_queued_never_reaches_the_door(
    store_and_door: tuple[Store, int],
) -> None:
    from gateway.config.station import StationConfig
    from gateway.station.commands import CommandHandlers
    from gateway.station.verify import VerifiedCommand

    store, door_id = store_and_door
    runtime = FakeRuntime()
    issued = datetime.now(UTC)
    command = VerifiedCommand(
        "0196f1c2-0000-7000-8000-000000000000",
        "open",
        "station:test",
        Requester.station("test"),
        issued,
        issued + timedelta(seconds=30),
        "a" * 32,
        {},
    )
    handlers = CommandHandlers(
        store,
        StationConfig(),
        runtime.callbacks(),
        door_id=door_id,
        model_id=MODEL_ID,
        request_replay=lambda first, last: None,
        clock=lambda: issued + timedelta(seconds=31),
    )
    result = handlers.run(command, issued)
    assert (result.ok, result.error) == (False, "expired")
    assert runtime.opens == []
