"""The link's own outbox queries: rows after a sequence, replay ranges, compaction, retention.

Compaction rule (back-pressure): when more than `max_pending` rows are undelivered, the oldest
results of *unauthenticated refusals* (commands refused before their signature verified: junk
anyone on the broker can cause) and then the oldest *granted access events* beyond the limit are
skipped for live delivery (marked delivered now) and one `compacted` message lists their sequence
ranges; they stay in the outbox and can be replayed until retention deletes them. Alerts, denials,
visitor-code events' denials and the results of signed commands are never compacted. Retention
deletes delivered rows older than `retention_days`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gateway.station.envelope import COMMAND_RESULT_TOPIC, COMPACTED_TOPIC
from gateway.store.events import ACCESS_EVENT_TOPIC, count_pending, enqueue
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


def command_result_committed(
    session: Session, gateway_id: str, command_id: str, since: datetime
) -> bool:
    """Whether a result for `command_id` was written at or after `since` (re-delivery check)."""
    row = session.execute(
        select(OutboxMessage.seq)
        .where(
            OutboxMessage.gateway_id == gateway_id,
            OutboxMessage.topic == COMMAND_RESULT_TOPIC,
            OutboxMessage.created_at >= since - timedelta(seconds=1),
            OutboxMessage.payload["command_id"].as_string() == command_id,
        )
        .limit(1)
    ).first()
    return row is not None


def _compactable(topic: str, payload: dict[str, Any]) -> bool:
    if topic == COMMAND_RESULT_TOPIC:
        return payload.get("authenticated") is False
    return payload.get("verdict") == "grant"


def _oldest_compactable(session: Session, gateway_id: str, topic: str, wanted: int) -> list[int]:
    found: list[int] = []
    after = 0
    while wanted > len(found):
        chunk = list(
            session.execute(
                select(OutboxMessage.seq, OutboxMessage.payload)
                .where(
                    OutboxMessage.gateway_id == gateway_id,
                    OutboxMessage.delivered_at.is_(None),
                    OutboxMessage.topic == topic,
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
            if _compactable(topic, payload) and len(found) < wanted:
                found.append(int(seq))
    return found


def compact(session: Session, gateway_id: str, max_pending: int, at: datetime) -> int:
    """Apply the compaction rule once; returns how many rows were skipped."""
    excess = count_pending(session, gateway_id) - max_pending
    skipped: list[int] = []
    for topic in (COMMAND_RESULT_TOPIC, ACCESS_EVENT_TOPIC):  # junk refusals go first
        if excess > len(skipped):
            skipped += _oldest_compactable(session, gateway_id, topic, excess - len(skipped))
    skipped.sort()
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
