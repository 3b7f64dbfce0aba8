"""Back-pressure: over max_pending, the oldest granted access events are skipped for live delivery
(still replayable); alerts and denials never are; the station is told which sequence ranges."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.config.station import StationConfig
from gateway.station.envelope import COMMAND_RESULT_TOPIC
from gateway.station.outbox_rows import compact
from gateway.station.station_client import SequenceTracker, StationClient
from gateway.store.events import count_pending, enqueue, pending_messages
from gateway.store.store import Store
from tests.station.broker import GATEWAY, SITE, MosquittoBroker
from tests.station.conftest import collect, validate_received
from tests.station.events import add_alert, bulk_access_events
from tests.station.test_delivery import events_of, make_link


def test_compaction_skips_only_the_oldest_grants(store_and_door: tuple[Store, int]) -> None:
    store, door_id = store_and_door
    add_alert(store, door_id)  # seq 1
    bulk_access_events(store, 600, verdict="deny")  # 2..601
    bulk_access_events(store, 1000)  # 602..1601 grants
    add_alert(store, door_id)  # 1602
    with store.sessions.writing() as session:
        skipped = compact(session, GATEWAY, 1000, datetime.now(UTC))
    assert skipped == 602
    with store.sessions.reading() as session:
        pending = pending_messages(session, GATEWAY, 5000)
        assert count_pending(session, GATEWAY) == 1001  # 1000 kept + the compaction notice
    kept = {row.seq: row for row in pending}
    assert {1, 1602} <= set(kept)  # alerts stay
    assert set(range(2, 602)) <= set(kept)  # denials stay
    assert not set(range(602, 1204)) & set(kept)  # the oldest 602 grants were skipped
    notice = pending[-1]
    assert notice.topic == "compacted"
    assert notice.payload == {"reason": "max_pending", "count": 602, "ranges": [[602, 1203]]}
    assert StationConfig.model_fields["max_pending"].default == 100_000


def test_compacted_events_are_announced_and_replayable(
    broker: MosquittoBroker,
    station: StationClient,
    store_and_door: tuple[Store, int],
    tmp_path: Path,
    station_key: Ed25519PrivateKey,
) -> None:
    store, door_id = store_and_door
    bulk_access_events(store, 1200)
    with store.sessions.writing() as session:
        assert compact(session, GATEWAY, 1000, datetime.now(UTC)) == 200
    with make_link(store, door_id, broker, tmp_path / "gw", station_key) as link:
        got = collect(station, lambda got: any(m.topic.endswith("/events/compacted") for m in got))
        notice = validate_received(next(m for m in got if m.topic.endswith("/events/compacted")))
        assert notice["body"]["ranges"] == [[1, 200]]
        live = [e["seq"] for e in events_of(got) if e["type"] == "access_event"]
        assert live == list(range(201, 1201))
        assert link.wait_connected(10)
        station.send_command(
            station_key,
            site=SITE,
            gateway=GATEWAY,
            name="replay",
            args={"since_seq": 1, "until_seq": 200},
            issued_by="station:test",
        )
        replayed = collect(
            station, lambda got: sum(1 for e in events_of(got) if e["replayed"]) >= 200
        )
    tracker = SequenceTracker()
    for envelope in events_of(got):  # the live pass, with its compaction notice
        tracker.add(envelope)
    assert tracker.missing[f"{SITE}/{GATEWAY}"] == set()  # the compacted range is not a gap
    again = [e for e in events_of(replayed) if e["replayed"]]
    assert [e["seq"] for e in again] == list(range(1, 201))
    for message in replayed:
        validate_received(message)


def _results(store: Store, count: int, *, authenticated: bool) -> None:
    at = datetime.now(UTC)
    with store.sessions.writing() as session:
        for index in range(count):
            body = {
                "command_id": None,
                "name": "open",
                "ok": False,
                "error": "bad_signature" if not authenticated else "expired",
                "message": f"refusal {index}",
                "data": {},
                "at": at.isoformat(),
                "authenticated": authenticated,
            }
            enqueue(session, GATEWAY, COMMAND_RESULT_TOPIC, body, at)


def test_unauthenticated_refusals_are_compacted_first_and_signed_results_never(
    store_and_door: tuple[Store, int],
) -> None:
    """Issue 12.8: junk refusal rows filled the outbox and could never be compacted."""
    store, _door_id = store_and_door
    _results(store, 300, authenticated=False)  # 1..300: junk anyone could cause
    _results(store, 100, authenticated=True)  # 301..400: results of signed commands
    bulk_access_events(store, 800)  # 401..1200 grants
    with store.sessions.writing() as session:
        assert compact(session, GATEWAY, 1000, datetime.now(UTC)) == 200
        assert compact(session, GATEWAY, 600, datetime.now(UTC)) == 401  # 400 over, +1 notice
    with store.sessions.reading() as session:
        kept = {row.seq for row in pending_messages(session, GATEWAY, 5000)}
    assert not kept & set(range(1, 301))  # every junk refusal went first
    assert set(range(301, 401)) <= kept  # signed results are never compacted
    assert not kept & set(range(401, 702))  # then the oldest grants
