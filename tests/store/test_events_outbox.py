"""Access events with their outbox rows in one transaction; sequences; alerts; append-only audit."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from gateway.store.alerts_audit import acknowledge_alert, append_audit, open_alerts, raise_alert
from gateway.store.base import Method, Severity, Verdict
from gateway.store.events import (
    count_pending,
    enqueue,
    mark_delivered,
    pending_messages,
    recent_denials,
    recent_door_events,
    record_access_event,
    record_attempt,
)
from gateway.store.schema_events import AccessEvent, AuditEntry, OutboxMessage
from gateway.store.store import Store
from tests.store.conftest import T0, World


def test_event_and_outbox_row_are_written_together(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        event, message = record_access_event(
            session,
            gateway_id="gw-1",
            door_id=world.door_id,
            method=Method.FACE,
            verdict=Verdict.GRANT,
            reason_code="ok",
            occurred_at=T0,
            person_id=world.owner_id,
            score=0.71,
        )
    assert event.id.version == 7
    assert message.seq == 1 and message.topic == "access_event"
    assert message.payload["event_id"] == str(event.id)
    assert message.payload["person"] == "p-owner" and message.payload["door"] == "b3-main"
    with store.sessions.reading() as session:
        stored = session.get(AccessEvent, event.id)
        assert stored is not None and stored.occurred_at == T0 and stored.score == 0.71


def test_a_failed_transaction_leaves_neither_row(store: Store, world: World) -> None:
    with pytest.raises(RuntimeError, match="door controller fault"), store.sessions.writing() as s:
        record_access_event(
            s,
            gateway_id="gw-1",
            door_id=world.door_id,
            method=Method.CARD,
            verdict=Verdict.DENY,
            reason_code="expired",
            occurred_at=T0,
        )
        raise RuntimeError("door controller fault")
    with pytest.raises(IntegrityError), store.sessions.writing() as session:
        record_access_event(
            session,
            gateway_id="gw-1",
            door_id=world.door_id,
            method=Method.CARD,
            verdict=Verdict.DENY,
            reason_code="expired",
            occurred_at=T0,
        )
        session.add(OutboxMessage(gateway_id="gw-1", seq=1, topic="dup", payload={}, created_at=T0))
        session.flush()  # the outbox insert fails: the event must go too
    with store.sessions.reading() as session:
        assert session.scalar(select(func.count()).select_from(AccessEvent)) == 0
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_sequences_are_gapless_per_gateway_under_concurrency(store: Store, world: World) -> None:
    errors: list[BaseException] = []

    def writer(gateway: str) -> None:
        try:
            for i in range(15):
                with store.sessions.writing() as session:
                    enqueue(session, gateway, "heartbeat", {"i": i}, T0)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(g,)) for g in ("gw-1", "gw-1", "gw-1", "gw-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with store.sessions.reading() as session:
        seqs = session.scalars(
            select(OutboxMessage.seq)
            .where(OutboxMessage.gateway_id == "gw-1")
            .order_by(OutboxMessage.seq)
        ).all()
        assert seqs == list(range(1, 46))
        assert count_pending(session, "gw-2") == 15


def test_delivery_marks_and_attempts(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        for i in range(5):
            enqueue(session, "gw-1", "heartbeat", {"i": i}, T0)
    with store.sessions.writing() as session:
        first = pending_messages(session, "gw-1", limit=3)
        assert [m.seq for m in first] == [1, 2, 3]
        record_attempt(session, "gw-1", [1, 2, 3])
        assert mark_delivered(session, "gw-1", 3, T0 + timedelta(seconds=1)) == 3
    with store.sessions.reading() as session:
        rest = pending_messages(session, "gw-1")
        assert [m.seq for m in rest] == [4, 5]
        attempts = session.scalars(select(OutboxMessage.attempts).order_by(OutboxMessage.seq))
        assert list(attempts) == [1, 1, 1, 0, 0]


def test_decision_path_queries(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        for minutes, verdict in ((1, Verdict.DENY), (2, Verdict.DENY), (30, Verdict.GRANT)):
            record_access_event(
                session,
                gateway_id="gw-1",
                door_id=world.door_id,
                method=Method.FACE,
                verdict=verdict,
                reason_code="x",
                occurred_at=T0 + timedelta(minutes=minutes),
                person_id=world.owner_id,
            )
    with store.sessions.reading() as session:
        since = T0 + timedelta(minutes=2)
        assert [e.reason_code for e in recent_door_events(session, world.door_id, since)] == [
            "x",
            "x",
        ]
        assert recent_door_events(session, world.side_door_id, T0) == []
        assert recent_denials(session, world.owner_id, T0) == 2
        assert recent_denials(session, world.owner_id, since + timedelta(seconds=1)) == 0


def test_alert_snapshots_are_bounded_jpegs(store: Store, world: World) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + bytes(2000) + b"\xff\xd9"
    with store.sessions.writing() as session:
        alert = raise_alert(
            session,
            kind="watchlist_hit",
            severity=Severity.CRITICAL,
            occurred_at=T0,
            max_snapshot_bytes=store.config.max_snapshot_bytes,
            door_id=world.door_id,
            snapshot_jpeg=jpeg,
        )
        with pytest.raises(ValueError, match="limit"):
            raise_alert(
                session,
                kind="tailgating",
                severity=Severity.WARNING,
                occurred_at=T0,
                max_snapshot_bytes=2003,
                snapshot_jpeg=jpeg,
            )
        with pytest.raises(ValueError, match="not a JPEG"):
            raise_alert(
                session,
                kind="tailgating",
                severity=Severity.WARNING,
                occurred_at=T0,
                max_snapshot_bytes=4096,
                snapshot_jpeg=b"\x89PNG" + bytes(10),
            )
    with store.sessions.writing() as session:
        assert [a.id for a in open_alerts(session)] == [alert.id]
        assert acknowledge_alert(session, alert.id, "guard-2", T0 + timedelta(minutes=1))
        assert not acknowledge_alert(session, alert.id, "guard-3", T0 + timedelta(minutes=2))
        assert open_alerts(session) == []


def test_audit_log_refuses_update_and_delete(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        entry = append_audit(
            session,
            actor="admin",
            action="add_card",
            target="person:1",
            occurred_at=T0,
            source_address="10.0.0.5",
        )
    for change in (
        update(AuditEntry).where(AuditEntry.id == entry.id).values(actor="someone else"),
        delete(AuditEntry).where(AuditEntry.id == entry.id),
    ):
        with pytest.raises(DBAPIError, match="append-only"), store.sessions.writing() as s:
            s.execute(change)
    with store.sessions.reading() as session:
        kept = session.get(AuditEntry, entry.id)
        assert kept is not None and kept.actor == "admin"
