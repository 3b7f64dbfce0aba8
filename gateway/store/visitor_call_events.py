"""Visitor-call outcomes as access events: one event row and its `visitor_call` outbox message.

Each outcome of a call (placed, accepted, declined, missed, an answer refused) is an
`access_event` row of method `call` carrying the call id, written in the same transaction as its
outbox message (type `visitor_call`, published on events/visitor_call). The row and the message
hold no image: the caller's snapshot lives only in memory for the call's lifetime, and the link
adds it to the `placed` message when it publishes it (gateway/station/envelope.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.base import Method, Verdict
from gateway.store.errors import NotFound
from gateway.store.events import add_access_event, enqueue
from gateway.store.schema_events import AccessEvent
from gateway.store.schema_people import Building, Door, Person, Unit

VISITOR_CALL_TOPIC = "visitor_call"


@dataclass(frozen=True)
class CalledUnit:
    """The unit a visitor called: typed digits resolved to a store unit of the door's building."""

    unit_id: int
    building: str
    unit_number: str
    room_number: str

    def as_body(self) -> dict[str, str]:
        return {
            "building": self.building,
            "unit_number": self.unit_number,
            "room_number": self.room_number,
        }


def find_called_unit(session: Session, door_id: int, typed: str) -> CalledUnit | None:
    """The unit of the door's building that `typed` names: its room number when that is unique
    in the building, else stairwell unit number + room number ("1" + "1201" -> "11201").
    A unit with no active resident cannot be called (None)."""
    door = session.get(Door, door_id)
    if door is None:
        raise NotFound(f"door {door_id} does not exist")
    building = session.get(Building, door.building_id)
    assert building is not None
    units = list(session.scalars(select(Unit).where(Unit.building_id == building.id)))
    matches = [unit for unit in units if unit.room_number == typed]
    if len(matches) != 1:
        matches = [unit for unit in units if unit.unit_number + unit.room_number == typed]
    if len(matches) != 1:
        return None
    [unit] = matches
    resident = session.scalar(
        select(Person.id)
        .where(Person.unit_id == unit.id, Person.active, Person.erased_at.is_(None))
        .limit(1)
    )
    if resident is None:
        return None
    return CalledUnit(unit.id, building.number, unit.unit_number, unit.room_number)


def record_call_event(
    session: Session,
    *,
    gateway_id: str,
    door_id: int,
    call_id: str | None,
    outcome: str,
    verdict: Verdict,
    reason: str,
    occurred_at: datetime,
    unit: dict[str, str] | None,
    answered_by: str | None = None,
    person_id: int | None = None,
) -> AccessEvent:
    """Write one call outcome (`placed`, `accepted`, `declined`, `missed`, `refused`) and its
    outbox message in the caller's transaction (NotFound for a door or person that does not
    exist, as for every access event)."""
    event, door, person = add_access_event(
        session,
        door_id=door_id,
        method=Method.CALL,
        verdict=verdict,
        reason_code=reason,
        occurred_at=occurred_at,
        person_id=person_id,
        call_id=call_id,
    )
    payload = {
        "event_id": str(event.id),
        "call_id": call_id,
        "outcome": outcome,
        "occurred_at": occurred_at.isoformat(),
        "door": door.code,
        "unit": unit,
        "verdict": verdict.value,
        "reason": reason,
        "answered_by": answered_by,
        "person": None if person is None else person.external_id,
    }
    enqueue(session, gateway_id, VISITOR_CALL_TOPIC, payload, occurred_at, person_id)
    return event
