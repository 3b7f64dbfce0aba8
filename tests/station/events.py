"""Writing test events into a store's outbox the way the runtime does (event + outbox row)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.store.alerts_audit import raise_alert
from gateway.store.base import Method, Severity, Verdict
from gateway.store.events import enqueue, enqueue_many, record_access_event
from gateway.store.store import Store
from gateway.store.uuid7 import uuid7
from tests.station.broker import GATEWAY

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
TINY_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


def add_access_events(
    store: Store, door_id: int, count: int, verdict: Verdict = Verdict.GRANT, start: int = 0
) -> None:
    with store.sessions.writing() as session:
        for index in range(start, start + count):
            record_access_event(
                session,
                gateway_id=GATEWAY,
                door_id=door_id,
                method=Method.CARD if index % 3 else Method.CODE,
                verdict=verdict,
                reason_code="ok" if verdict is Verdict.GRANT else "unknown_card",
                occurred_at=T0 + timedelta(milliseconds=index),
            )


def bulk_access_events(store: Store, count: int, verdict: str = "grant") -> range:
    """Many access-event outbox rows at once (shaped as the policy writes them)."""
    payloads = (
        {
            "event_id": str(uuid7(int((T0 + timedelta(milliseconds=i)).timestamp() * 1000))),
            "occurred_at": (T0 + timedelta(milliseconds=i)).isoformat(),
            "door": "main",
            "method": "card",
            "verdict": verdict,
            "reason": "ok" if verdict == "grant" else "unknown_card",
            "person": None,
            "score": None,
        }
        for i in range(count)
    )
    with store.sessions.writing() as session:
        return enqueue_many(session, GATEWAY, "access_event", payloads, T0)


def add_alert(store: Store, door_id: int, jpeg: bytes | None = TINY_JPEG) -> int:
    with store.sessions.writing() as session:
        alert = raise_alert(
            session,
            kind="watchlist_match",
            severity=Severity.CRITICAL,
            occurred_at=T0,
            max_snapshot_bytes=262144,
            door_id=door_id,
            snapshot_jpeg=jpeg,
        )
        payload = {
            "alert_id": alert.id,
            "kind": "watchlist_match",
            "severity": "critical",
            "occurred_at": T0.isoformat(),
            "has_snapshot": jpeg is not None,
            "detail": {"category": "wanted"},
        }
        return enqueue(session, GATEWAY, "alert", payload, T0).seq
