"""A visitor_call outbox row becomes its envelope: topic, stable id, schema, and the snapshot only
while the call still holds one (the store never has it)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from gateway.access.call_snapshots import CallSnapshots
from gateway.station.envelope import build_message
from gateway.station.topics import Topics
from gateway.store.base import Verdict
from gateway.store.errors import NotFound
from gateway.store.events import pending_messages
from gateway.store.store import Store
from gateway.store.visitor_call_events import record_call_event
from tests.station.broker import GATEWAY, PREFIX, SITE
from tests.station.conftest import validate
from tests.station.events import TINY_JPEG

CALL_ID = "c0ffee" + "0" * 26


def test_placed_carries_the_snapshot_only_while_the_call_holds_it(
    store_and_door: tuple[Store, int],
) -> None:
    store, door_id = store_and_door
    snapshots = CallSnapshots()
    snapshots.put(CALL_ID, TINY_JPEG)
    with store.sessions.writing() as session:
        event = record_call_event(
            session,
            gateway_id=GATEWAY,
            door_id=door_id,
            call_id=CALL_ID,
            outcome="placed",
            verdict=Verdict.DENY,
            reason="call_placed",
            occurred_at=datetime.now(UTC),
            unit={"building": "1", "unit_number": "1", "room_number": "101"},
        )
    topics = Topics(PREFIX, SITE, GATEWAY)
    with store.sessions.reading() as session:
        [row] = pending_messages(session, GATEWAY)
        assert "snapshot" not in row.payload  # the store never holds the image

        def build() -> dict[str, object]:
            message = build_message(
                session, row, topics, max_snapshot_bytes=65536, call_snapshot=snapshots.get
            )
            assert message.topic == f"{PREFIX}/{SITE}/{GATEWAY}/events/visitor_call"
            assert message.message_id == str(event.id)  # the same id on every re-send
            envelope = json.loads(message.payload)
            validate("visitor_call", envelope)
            body: dict[str, object] = envelope["body"]
            return body

        ringing = build()
        snapshot = ringing["snapshot"]
        assert isinstance(snapshot, dict) and base64.b64decode(snapshot["data"]) == TINY_JPEG
        snapshots.discard(CALL_ID)  # the call ended
        assert build()["snapshot"] is None
    assert len(snapshots) == 0


def test_the_holder_is_bounded() -> None:
    snapshots = CallSnapshots(max_calls=2)
    for n in range(3):
        snapshots.put(f"call-{n}", TINY_JPEG)
    assert snapshots.held() == ["call-1", "call-2"]


def test_a_call_event_for_a_person_who_does_not_exist_writes_nothing(
    store_and_door: tuple[Store, int],
) -> None:
    """An accept naming a person id that is not in the store (deleted between the answer's check
    and the write) is refused like every access event, and neither the row nor its message stays."""
    store, door_id = store_and_door
    with pytest.raises(NotFound), store.sessions.writing() as session:
        record_call_event(
            session,
            gateway_id=GATEWAY,
            door_id=door_id,
            call_id=CALL_ID,
            outcome="accepted",
            verdict=Verdict.GRANT,
            reason="call_accepted",
            occurred_at=datetime.now(UTC),
            unit=None,
            person_id=987_654,
        )
    with store.sessions.reading() as session:
        assert pending_messages(session, GATEWAY) == []
