"""The events and alerts queries: filtering access events (time, person, door, method, verdict)
and alerts (open, kind, since). The staff page's list, dashboard and CSV export and the JSON API
all read through `EventsQuery`; an erased person shows only as their pseudonym."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.store.base import Method, Verdict
from gateway.store.schema_events import AccessEvent, Alert
from gateway.store.schema_people import Door, Person
from gateway.store.store import Store


@dataclass(frozen=True)
class EventFilter:
    since: datetime | None = None
    until: datetime | None = None
    person: str = ""
    door: str = ""
    method: Method | None = None
    verdict: Verdict | None = None
    limit: int = 200


@dataclass(frozen=True)
class EventRow:
    event: AccessEvent
    door_code: str
    person_label: str

    def csv_cells(self) -> list[object]:
        e = self.event
        return [
            e.occurred_at.isoformat(),
            self.door_code,
            e.method.value,
            e.verdict.value,
            e.reason_code,
            self.person_label,
            "" if e.score is None else f"{e.score:.3f}",
            e.call_id or "",
        ]


def person_label(person: Person | None, pseudonym: str | None) -> str:
    if person is None:
        return pseudonym or ""
    if person.erased_at is not None:
        return person.pseudonym or ""
    name = f" {person.display_name}" if person.display_name else ""
    return f"{person.external_id}{name}"


def _find_events(session: Session, wanted: EventFilter) -> list[EventRow]:
    statement = (
        select(AccessEvent, Door, Person)
        .join(Door, Door.id == AccessEvent.door_id)
        .outerjoin(Person, Person.id == AccessEvent.person_id)
        .order_by(AccessEvent.occurred_at.desc())
        .limit(max(1, min(wanted.limit, 5000)))
    )
    if wanted.since is not None:
        statement = statement.where(AccessEvent.occurred_at >= wanted.since)
    if wanted.until is not None:
        statement = statement.where(AccessEvent.occurred_at < wanted.until)
    if wanted.door:
        statement = statement.where(Door.code == wanted.door)
    if wanted.method is not None:
        statement = statement.where(AccessEvent.method == wanted.method)
    if wanted.verdict is not None:
        statement = statement.where(AccessEvent.verdict == wanted.verdict)
    if wanted.person:
        like = f"%{wanted.person}%"
        statement = statement.where(
            or_(
                Person.external_id.ilike(like),
                Person.display_name.ilike(like),
                AccessEvent.person_pseudonym.ilike(like),
            )
        )
    return [
        EventRow(event, door.code, person_label(person, event.person_pseudonym))
        for event, door, person in session.execute(statement)
    ]


def _find_alerts(
    session: Session,
    *,
    open_only: bool = False,
    kind: str = "",
    since: datetime | None = None,
    limit: int = 200,
) -> list[Alert]:
    statement = select(Alert).order_by(Alert.occurred_at.desc()).limit(max(1, min(limit, 5000)))
    if open_only:
        statement = statement.where(Alert.acknowledged_at.is_(None))
    if kind:
        statement = statement.where(Alert.kind == kind)
    if since is not None:
        statement = statement.where(Alert.occurred_at >= since)
    return list(session.scalars(statement))


class EventsQuery:
    """Reads through the store it is given (the staff page passes its own lane)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def events(self, wanted: EventFilter) -> list[EventRow]:
        """Newest first, at most `wanted.limit` (1..5000)."""
        with self._store.sessions.reading() as session:
            return _find_events(session, wanted)

    def alerts(
        self,
        *,
        open_only: bool = False,
        kind: str = "",
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[Alert]:
        """Newest first, at most `limit` (1..5000)."""
        with self._store.sessions.reading() as session:
            return _find_alerts(session, open_only=open_only, kind=kind, since=since, limit=limit)
