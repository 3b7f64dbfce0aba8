"""Access events and the outbox: an event and its outbox message are written in one transaction.

Outbox sequence numbers are per gateway, gapless and increasing: the counter row is bumped with
an upsert ... RETURNING before the message is inserted, so concurrent writers serialise on it.
Events carry no biometric data: method, verdict, reason code and score only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.store.base import Method, Verdict
from gateway.store.errors import NotFound
from gateway.store.schema_events import AccessEvent, OutboxCounter, OutboxMessage
from gateway.store.schema_people import Door, Person
from gateway.store.uuid7 import uuid7

ACCESS_EVENT_TOPIC = "access_event"


def reserve_sequence(session: Session, gateway_id: str, count: int = 1) -> int:
    """Reserve `count` consecutive outbox sequence numbers; returns the first one."""
    if count < 1:
        raise ValueError("reserve at least one sequence number")
    dialect = session.get_bind().dialect.name
    upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(OutboxCounter)
    statement = (
        upsert.values(gateway_id=gateway_id, last_seq=count)
        .on_conflict_do_update(
            index_elements=[OutboxCounter.gateway_id],
            set_={"last_seq": OutboxCounter.last_seq + count},
        )
        .returning(OutboxCounter.last_seq)
    )
    last = session.execute(statement).scalar_one()
    return int(last) - count + 1


def enqueue(
    session: Session,
    gateway_id: str,
    topic: str,
    payload: Mapping[str, Any],
    at: datetime,
    person_id: int | None = None,
) -> OutboxMessage:
    """Queue one message; `person_id` names whose data the payload holds (for erasure)."""
    message = OutboxMessage(
        gateway_id=gateway_id,
        seq=reserve_sequence(session, gateway_id),
        topic=topic,
        payload=dict(payload),
        created_at=at,
        attempts=0,
        person_id=person_id,
    )
    session.add(message)
    session.flush()
    return message


def enqueue_many(
    session: Session,
    gateway_id: str,
    topic: str,
    payloads: Iterable[Mapping[str, Any]],
    at: datetime,
) -> range:
    """Insert many messages with one executemany; returns their sequence numbers."""
    items = [dict(payload) for payload in payloads]
    if not items:
        return range(0)
    first = reserve_sequence(session, gateway_id, len(items))
    session.execute(
        insert(OutboxMessage),
        [
            {
                "gateway_id": gateway_id,
                "seq": first + offset,
                "topic": topic,
                "payload": payload,
                "created_at": at,
                "attempts": 0,
            }
            for offset, payload in enumerate(items)
        ],
    )
    return range(first, first + len(items))


def add_access_event(
    session: Session,
    *,
    door_id: int,
    method: Method,
    verdict: Verdict,
    reason_code: str,
    occurred_at: datetime,
    person_id: int | None = None,
    score: float | None = None,
    call_id: str | None = None,
) -> tuple[AccessEvent, Door, Person | None]:
    """Add an access event row (time-ordered uuid7 id) to the caller's transaction, with its door
    and person; NotFound for a door or person that does not exist. The caller enqueues the outbox
    message it publishes (record_access_event, record_call_event)."""
    door = session.get(Door, door_id)
    if door is None:
        raise NotFound(f"door {door_id} does not exist")
    person = None if person_id is None else session.get(Person, person_id)
    if person_id is not None and person is None:
        raise NotFound(f"person {person_id} does not exist")
    event = AccessEvent(
        id=uuid7(int(occurred_at.timestamp() * 1000)),
        occurred_at=occurred_at,
        door_id=door_id,
        method=method,
        person_id=person_id,
        verdict=verdict,
        reason_code=reason_code,
        score=score,
        call_id=call_id,
    )
    session.add(event)
    return event, door, person


def record_access_event(
    session: Session,
    *,
    gateway_id: str,
    door_id: int,
    method: Method,
    verdict: Verdict,
    reason_code: str,
    occurred_at: datetime,
    person_id: int | None = None,
    score: float | None = None,
) -> tuple[AccessEvent, OutboxMessage]:
    """Write the event and its outbox message in the caller's transaction (both or neither)."""
    event, door, person = add_access_event(
        session,
        door_id=door_id,
        method=method,
        verdict=verdict,
        reason_code=reason_code,
        occurred_at=occurred_at,
        person_id=person_id,
        score=score,
    )
    payload = {
        "event_id": str(event.id),
        "occurred_at": occurred_at.isoformat(),
        "door": door.code,
        "method": method.value,
        "verdict": verdict.value,
        "reason": reason_code,
        "person": None if person is None else person.external_id,
        "score": score,
    }
    message = enqueue(session, gateway_id, ACCESS_EVENT_TOPIC, payload, occurred_at, person_id)
    return event, message


def recent_door_events_query(door_id: int, since: datetime, limit: int) -> Select[AccessEvent]:
    """Events at a door since a time, newest first (ix_access_event_door_id_occurred_at)."""
    return (
        select(AccessEvent)
        .where(AccessEvent.door_id == door_id, AccessEvent.occurred_at >= since)
        .order_by(AccessEvent.occurred_at.desc())
        .limit(limit)
    )


def recent_door_events(
    session: Session, door_id: int, since: datetime, limit: int = 50
) -> list[AccessEvent]:
    return list(session.scalars(recent_door_events_query(door_id, since, limit)))


def recent_denials_query(person_id: int, since: datetime) -> Select[int]:
    """How many denials a person had since a time (ix_access_event_person_id_occurred_at)."""
    return (
        select(func.count())
        .select_from(AccessEvent)
        .where(
            AccessEvent.person_id == person_id,
            AccessEvent.occurred_at >= since,
            AccessEvent.verdict == Verdict.DENY,
        )
    )


def recent_denials(session: Session, person_id: int, since: datetime) -> int:
    return int(session.scalar(recent_denials_query(person_id, since)) or 0)


def pending_query(gateway_id: str, limit: int) -> Select[OutboxMessage]:
    return (
        select(OutboxMessage)
        .where(OutboxMessage.gateway_id == gateway_id, OutboxMessage.delivered_at.is_(None))
        .order_by(OutboxMessage.seq)
        .limit(limit)
    )


def pending_messages(session: Session, gateway_id: str, limit: int = 100) -> list[OutboxMessage]:
    """Undelivered messages, oldest sequence first (served by the partial ix_outbox_pending)."""
    return list(session.scalars(pending_query(gateway_id, limit)))


def count_pending(session: Session, gateway_id: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.gateway_id == gateway_id, OutboxMessage.delivered_at.is_(None))
        )
        or 0
    )


def mark_delivered(session: Session, gateway_id: str, up_to_seq: int, at: datetime) -> int:
    """The station acknowledged everything up to `up_to_seq`; returns rows marked."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.gateway_id == gateway_id,
            OutboxMessage.seq <= up_to_seq,
            OutboxMessage.delivered_at.is_(None),
        )
        .values(delivered_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def record_attempt(session: Session, gateway_id: str, seqs: Iterable[int]) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.gateway_id == gateway_id, OutboxMessage.seq.in_(list(seqs)))
        .values(attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
