"""People and their validity: roles, validity windows, weekly schedules, per-door access checks.

A person may pass a door at time t when: active, not erased, valid_from <= t < valid_until (a
tenant without valid_until is never valid: tenancies must end), inside one of their weekly windows
if they have any (in the site's local time), and the door is in their building (staff, who have
no unit, may use every door of their site).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.orm import Session

from gateway.store.base import Role
from gateway.store.errors import NotFound
from gateway.store.places import door_site
from gateway.store.schema_people import Door, Person, Unit, WeeklyWindow


@dataclass(frozen=True)
class AccessCheck:
    """Whether a person may pass a door now; `reason` is a stable code for the event log."""

    allowed: bool
    reason: str


def add_person(
    session: Session,
    *,
    external_id: str,
    display_name: str | None,
    role: Role,
    unit_id: int | None,
    valid_from: datetime,
    valid_until: datetime | None = None,
    active: bool = True,
) -> Person:
    if role is not Role.STAFF and unit_id is None:
        raise ValueError(f"a {role.value} must belong to a unit")
    person = Person(
        external_id=external_id,
        display_name=display_name,
        role=role,
        unit_id=unit_id,
        valid_from=valid_from,
        valid_until=valid_until,
        active=active,
    )
    session.add(person)
    session.flush()
    return person


def upsert_person(
    session: Session,
    *,
    external_id: str,
    display_name: str | None,
    role: Role,
    unit_id: int | None,
    valid_from: datetime,
    valid_until: datetime | None,
    active: bool,
) -> Person:
    """Apply one person from a station delta: create, or update in place (erased stay erased)."""
    person = session.scalars(select(Person).where(Person.external_id == external_id)).one_or_none()
    if person is None:
        return add_person(
            session,
            external_id=external_id,
            display_name=display_name,
            role=role,
            unit_id=unit_id,
            valid_from=valid_from,
            valid_until=valid_until,
            active=active,
        )
    if person.erased_at is not None:
        raise ValueError(f"person {person.id} was erased; a new enrolment needs a new id")
    if role is not Role.STAFF and unit_id is None:
        raise ValueError(f"a {role.value} must belong to a unit")
    person.display_name = display_name
    person.role = role
    person.unit_id = unit_id
    person.valid_from = valid_from
    person.valid_until = valid_until
    person.active = active
    session.flush()
    return person


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    return person


def set_weekly_windows(
    session: Session, person_id: int, windows: Sequence[tuple[int, int, int]]
) -> None:
    """Replace the person's schedule with (day_of_week 0=Mon, start_minute, end_minute) windows.

    An empty list removes the schedule (no time restriction).
    """
    get_person(session, person_id)
    session.execute(delete(WeeklyWindow).where(WeeklyWindow.person_id == person_id))
    for day, start, end in windows:
        if not (0 <= day <= 6 and 0 <= start < end <= 1440):
            raise ValueError(f"bad weekly window {(day, start, end)}")
        session.add(
            WeeklyWindow(person_id=person_id, day_of_week=day, start_minute=start, end_minute=end)
        )
    session.flush()


def validity_reason(person: Person, at: datetime) -> str | None:
    """None when the person's record is valid at `at`, else why not (no schedule involved)."""
    if person.erased_at is not None:
        return "person_erased"
    if not person.active:
        return "person_inactive"
    if at < person.valid_from:
        return "not_yet_valid"
    if person.role is Role.TENANT and person.valid_until is None:
        return "tenant_without_end"
    if person.valid_until is not None and at >= person.valid_until:
        return "expired"
    return None


def valid_at_clause(at: datetime) -> ColumnElement[bool]:
    """The SQL form of `validity_reason(...) is None`, for bulk queries."""
    return and_(
        Person.active.is_(True),
        Person.erased_at.is_(None),
        Person.valid_from <= at,
        or_(
            Person.valid_until > at,
            and_(Person.valid_until.is_(None), Person.role != Role.TENANT),
        ),
    )


def schedule_allows(windows: Sequence[WeeklyWindow], at: datetime, timezone: str) -> bool:
    if not windows:
        return True
    local = at.astimezone(ZoneInfo(timezone))
    minute = local.hour * 60 + local.minute
    return any(
        w.day_of_week == local.weekday() and w.start_minute <= minute < w.end_minute
        for w in windows
    )


def check_access(session: Session, person_id: int, door_id: int, at: datetime) -> AccessCheck:
    """May this person pass this door at `at`? Reasons: ok, unknown_person, expired, ..."""
    person = session.get(Person, person_id)
    if person is None:
        return AccessCheck(False, "unknown_person")
    reason = validity_reason(person, at)
    if reason is not None:
        return AccessCheck(False, reason)
    door = session.get(Door, door_id)
    if door is None:
        raise NotFound(f"door {door_id} does not exist")
    if person.unit_id is not None:
        unit = session.get(Unit, person.unit_id)
        if unit is None or unit.building_id != door.building_id:
            return AccessCheck(False, "other_building")
    windows = session.scalars(select(WeeklyWindow).where(WeeklyWindow.person_id == person_id)).all()
    if not schedule_allows(windows, at, door_site(session, door_id).timezone):
        return AccessCheck(False, "outside_schedule")
    return AccessCheck(True, "ok")
