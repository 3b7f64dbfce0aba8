"""CommandFlow without a broker: the re-delivery ledger and the refusal rate limit, on a real
SQLite store and nonce file. Each case is a crash window of the kill -9 loop, made deterministic:
a re-delivery (DUP) never produces a second result, and a replay always gets one."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from gateway.application.remote_open import OpenOutcome, RemoteOpen
from gateway.config.station import StationConfig
from gateway.station.command_flow import UNFINISHED, CommandFlow, CommandMessage
from gateway.station.commands import CommandHandlers, StationCallbacks
from gateway.station.envelope import COMMAND_RESULT_TOPIC
from gateway.station.keys import load_public_key, make_command, public_key_b64, sign_command
from gateway.station.nonces import NonceCache
from gateway.station.refusals import RefusalLimiter
from gateway.station.verify import Expectation
from gateway.store.events import enqueue
from gateway.store.schema_events import OutboxMessage
from gateway.store.store import Store
from tests.station.broker import GATEWAY, SITE
from tests.station.conftest import MODEL_ID

KEY = Ed25519PrivateKey.generate()


class Clock:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def flow(store_and_door: tuple[Store, int], tmp_path: Path) -> tuple[CommandFlow, list[str], Clock]:
    store, door_id = store_and_door
    opened: list[str] = []

    def on_remote_open(request: RemoteOpen) -> OpenOutcome:
        opened.append(request.command_id)
        return OpenOutcome(True, "remote_open")

    config = StationConfig(enabled=True, nonce_db=tmp_path / "nonces.db")
    handlers = CommandHandlers(
        store,
        config,
        StationCallbacks(on_remote_open=on_remote_open),
        door_id=door_id,
        model_id=MODEL_ID,
        request_replay=lambda first, last: None,
        clock=lambda: datetime.now(UTC),
    )
    expect = Expectation(
        site=SITE,
        gateway=GATEWAY,
        public_key=load_public_key(public_key_b64(KEY)),
        max_bytes=config.max_command_bytes,
        max_lifetime=timedelta(seconds=300),
        clock_skew=timedelta(seconds=30),
    )
    clock = Clock()
    command_flow = CommandFlow(
        store,
        GATEWAY,
        expect,
        handlers,
        RefusalLimiter(5, clock),
        now=lambda: datetime.now(UTC),
        notify=lambda: None,
        stopping=threading.Event(),
    )
    command_flow.nonces = NonceCache(tmp_path / "nonces.db", 1000, timedelta(seconds=30))
    return command_flow, opened, clock


def signed_open(**changes: Any) -> tuple[str, bytes]:
    command = make_command(
        name="open", site=SITE, gateway=GATEWAY, args={}, issued_by="station", now=datetime.now(UTC)
    )
    command.update(changes)
    return command["id"], json.dumps(sign_command(KEY, command)).encode()


def message(payload: bytes, dup: bool = False) -> CommandMessage:
    return CommandMessage("open", payload, len(payload), dup=dup)


def results(flow: CommandFlow) -> list[dict[str, Any]]:
    with flow.store.sessions.reading() as session:
        return list(
            session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.topic == COMMAND_RESULT_TOPIC)
                .order_by(OutboxMessage.seq)
            )
        )


def test_a_redelivery_of_an_answered_command_writes_nothing(flow: Any) -> None:
    command_flow, opened, _clock = flow
    command_id, payload = signed_open()
    assert command_flow.answer(message(payload)) is not None
    assert command_flow.answer(message(payload, dup=True)) is None  # killed before the ack
    assert opened == [command_id]
    assert [r["command_id"] for r in results(command_flow)] == [command_id]
    replay = command_flow.answer(message(payload))  # a new message with the same nonce
    assert replay is not None and replay.error == "replayed"
    assert replay.data["first_result"]["ok"] is True
    assert opened == [command_id]


def test_killed_while_running_is_answered_replayed_once(flow: Any) -> None:
    command_flow, opened, _clock = flow
    command_id, payload = signed_open()
    envelope = json.loads(payload)["command"]
    expires = datetime.fromisoformat(envelope["expires_at"])
    now = datetime.now(UTC)
    assert command_flow.nonces.claim(envelope["nonce"], command_id, expires, now).status == "fresh"
    answer = command_flow.answer(message(payload, dup=True))  # the crash left no result
    assert answer is not None and answer.error == "replayed" and answer.message == UNFINISHED
    assert command_flow.answer(message(payload, dup=True)) is None  # and only once
    assert opened == []
    assert [r["error"] for r in results(command_flow)] == ["replayed"]


def test_killed_between_the_result_and_the_ledger_writes_no_second_result(flow: Any) -> None:
    command_flow, _opened, _clock = flow
    command_id, payload = signed_open()
    envelope = json.loads(payload)["command"]
    now = datetime.now(UTC)
    expires = datetime.fromisoformat(envelope["expires_at"])
    command_flow.nonces.claim(envelope["nonce"], command_id, expires, now)
    body = {"command_id": command_id, "name": "open", "ok": True, "error": None, "message": "",
            "data": {}, "at": now.isoformat(), "authenticated": True}  # fmt: skip
    with command_flow.store.sessions.writing() as session:
        enqueue(session, GATEWAY, COMMAND_RESULT_TOPIC, body, now)
    assert command_flow.answer(message(payload, dup=True)) is None
    assert len(results(command_flow)) == 1


def test_a_signed_refusal_comes_back_refused_once(flow: Any) -> None:
    command_flow, _opened, _clock = flow
    _command_id, payload = signed_open(gateway="gw-other")
    refusal = command_flow.answer(message(payload))
    assert refusal is not None and refusal.error == "wrong_target"
    assert command_flow.answer(message(payload, dup=True)) is None
    assert len(results(command_flow)) == 1


def test_unauthenticated_refusals_are_rate_limited_and_the_gap_reported(flow: Any) -> None:
    command_flow, _opened, clock = flow
    for index in range(12):
        command_flow.answer(message(b"junk %d" % index))
    written = results(command_flow)
    assert len(written) == 5  # the bucket holds 5
    assert all(r["authenticated"] is False and r["error"] == "malformed" for r in written)
    clock.value += 60  # a minute later the bucket is full again
    command_flow.answer(message(b"more junk"))
    assert results(command_flow)[-1]["data"] == {"suppressed": 7}
    _command_id, payload = signed_open()
    signed = command_flow.answer(message(payload))  # a signed command is never limited
    assert signed is not None and signed.ok
