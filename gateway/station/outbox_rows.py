"""The link's own outbox queries: rows after a sequence, replay ranges, compaction, retention.

Compaction rule (back-pressure): when more than `max_pending` rows are undelivered, the oldest
*granted access events* beyond the limit are skipped for live delivery (marked delivered now) and
one `compacted` message lists their sequence ranges; they stay in the outbox and can be replayed
until retention deletes them. Alerts, denials, visitor-code events' denials and command results
are never compacted. Retention deletes delivered rows older than `retention_days`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gateway.station.envelope import COMPACTED_TOPIC
from gateway.store.events import count_pending, enqueue
from gateway.store.schema_events import OutboxMessage

COMPACTION_CHUNK = 5000


def pending_after(
    session: Session, gateway_id: str, after_seq: int, limit: int
) -> list[OutboxMessage]:
    """Undelivered rows with seq > after_seq, in sequence order."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.gateway_id == gateway_id,
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.seq > after_seq,
            )
            .order_by(OutboxMessage.seq)
            .limit(limit)
        )
    )


def rows_in_range(
    session: Session, gateway_id: str, first_seq: int, last_seq: int, limit: int
) -> list[OutboxMessage]:
    """Rows first_seq..last_seq, delivered or not (for replay), in sequence order."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.gateway_id == gateway_id,
                OutboxMessage.seq >= first_seq,
                OutboxMessage.seq <= last_seq,
            )
            .order_by(OutboxMessage.seq)
            .limit(limit)
        )
    )


def _ranges(seqs: list[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for seq in seqs:
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def compact(session: Session, gateway_id: str, max_pending: int, at: datetime) -> int:
    """Apply the compaction rule once; returns how many rows were skipped."""
    excess = count_pending(session, gateway_id) - max_pending
    skipped: list[int] = []
    after = 0
    while excess > len(skipped):
        chunk = list(
            session.execute(
                select(OutboxMessage.seq, OutboxMessage.payload)
                .where(
                    OutboxMessage.gateway_id == gateway_id,
                    OutboxMessage.delivered_at.is_(None),
                    OutboxMessage.topic == "access_event",
                    OutboxMessage.seq > after,
                )
                .order_by(OutboxMessage.seq)
                .limit(COMPACTION_CHUNK)
            )
        )
        if not chunk:
            break
        after = chunk[-1][0]
        for seq, payload in chunk:
            if payload.get("verdict") == "grant" and len(skipped) < excess:
                skipped.append(int(seq))
    for start in range(0, len(skipped), COMPACTION_CHUNK):
        part = skipped[start : start + COMPACTION_CHUNK]
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.gateway_id == gateway_id, OutboxMessage.seq.in_(part))
            .values(delivered_at=at)
            .execution_options(synchronize_session=False)
        )
        body = {"reason": "max_pending", "count": len(part), "ranges": _ranges(part)}
        enqueue(session, gateway_id, COMPACTED_TOPIC, body, at)
    return len(skipped)


def delete_expired(session: Session, gateway_id: str, retention: timedelta, at: datetime) -> int:
    result = session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.gateway_id == gateway_id,
            OutboxMessage.delivered_at.is_not(None),
            OutboxMessage.delivered_at < at - retention,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
