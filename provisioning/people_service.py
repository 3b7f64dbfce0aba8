"""People and units as the staff page edits them: validated input, find-or-create units,
optimistic concurrency on edits (a stale form is refused, nothing half-saved), listing.

Every function runs inside the caller's writing() session, so the change and its audit row
commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gateway.store.base import Role
from gateway.store.credentials import active_face_consent
from gateway.store.people import add_person, get_person
from gateway.store.places import add_building, add_unit, door_site
from gateway.store.schema_credentials import Card, FaceTemplate, Pin
from gateway.store.schema_people import Building, Door, Person, Unit
from provisioning.site_time import supported

EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class StaleEdit(Exception):
    """The person changed since the form was loaded."""


class PersonInput(BaseModel):
    """A person as entered on the page, the API or a CSV line."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str = Field(pattern=EXTERNAL_ID_PATTERN)
    display_name: str = Field("", max_length=200)
    role: Role
    building: str = Field("", max_length=32)
    unit_number: str = Field("", max_length=16)
    room_number: str = Field("", max_length=16)
    valid_from: datetime
    valid_until: datetime | None = None
    active: bool = True

    @field_validator("valid_until", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _supported_year(cls, value: datetime | None) -> datetime | None:
        return None if value is None else supported(value)

    @model_validator(mode="after")
    def _consistent(self) -> PersonInput:
        if self.role is not Role.STAFF and not (self.unit_number and self.room_number):
            raise ValueError("residents need a stairwell unit and a room")
        if self.role is Role.TENANT and self.valid_until is None:
            raise ValueError("a tenant needs a 'valid until' date (tenancies end)")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("'valid until' must be after 'valid from'")
        return self


def localise(value: datetime, timezone: str) -> datetime:
    """Naive times from the page are in the site's local time; stored as UTC.

    Raises DateOutOfRange outside the supported years (the app answers 422).
    """
    supported(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC)


def local_text(value: datetime | None, timezone: str) -> str:
    """For a datetime-local input: site-local, minutes precision."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M")


MIN_GOOD_TEMPLATES = 3  # per face-enrolled resident: fewer and the door misses them more often


@dataclass(frozen=True)
class PersonRow:
    person: Person
    unit: Unit | None
    building: str
    cards: int
    has_pin: bool
    templates: int
    good_templates: int = 0  # templates of the running model (what the door searches)
    has_face_consent: bool = False

    @property
    def version(self) -> str:
        return self.person.updated_at.isoformat()

    @property
    def too_few_templates(self) -> bool:
        """A face-enrolled person (consent or templates) with fewer than 3 usable templates."""
        enrolled = self.has_face_consent or self.templates > 0
        erased = self.person.erased_at is not None
        return enrolled and not erased and self.good_templates < MIN_GOOD_TEMPLATES

    @property
    def credential_kinds(self) -> int:
        """How many kinds of credential the person holds (face, card, PIN)."""
        return int(self.good_templates > 0) + int(self.cards > 0) + int(self.has_pin)


def resolve_unit(session: Session, door_id: int, data: PersonInput) -> int | None:
    if data.role is Role.STAFF and not data.room_number:
        return None
    site = door_site(session, door_id)
    door = session.get(Door, door_id)
    assert door is not None
    number = data.building
    if not number:
        own = session.get(Building, door.building_id)
        assert own is not None
        number = own.number
    building = session.scalars(
        select(Building).where(Building.site_id == site.id, Building.number == number)
    ).one_or_none()
    if building is None:
        building = add_building(session, site.id, number)
    unit = session.scalars(
        select(Unit).where(
            Unit.building_id == building.id,
            Unit.unit_number == data.unit_number,
            Unit.room_number == data.room_number,
        )
    ).one_or_none()
    if unit is None:
        unit = add_unit(session, building.id, data.unit_number, data.room_number)
    return unit.id


def create_person(session: Session, door_id: int, data: PersonInput, timezone: str) -> Person:
    return add_person(
        session,
        external_id=data.external_id,
        display_name=data.display_name or None,
        role=data.role,
        unit_id=resolve_unit(session, door_id, data),
        valid_from=localise(data.valid_from, timezone),
        valid_until=None if data.valid_until is None else localise(data.valid_until, timezone),
        active=data.active,
    )


def update_person(
    session: Session, door_id: int, person_id: int, data: PersonInput, version: str, timezone: str
) -> Person:
    """Apply an edit when `version` still matches (writers serialise on BEGIN IMMEDIATE)."""
    person = get_person(session, person_id)
    if person.erased_at is not None:
        raise StaleEdit("erased")
    if person.updated_at.isoformat() != version:
        raise StaleEdit("changed")
    person.external_id = data.external_id
    person.display_name = data.display_name or None
    person.role = data.role
    person.unit_id = resolve_unit(session, door_id, data)
    person.valid_from = localise(data.valid_from, timezone)
    person.valid_until = None if data.valid_until is None else localise(data.valid_until, timezone)
    person.active = data.active
    person.updated_at = datetime.now(UTC)
    session.flush()
    return person


def person_row(session: Session, person: Person, model_id: str | None = None) -> PersonRow:
    """The person with their credential counts; `model_id` (the running embedder) decides which
    templates are good (None: all)."""
    unit = session.get(Unit, person.unit_id) if person.unit_id is not None else None
    building = session.get(Building, unit.building_id) if unit is not None else None
    cards = session.scalar(select(func.count()).where(Card.person_id == person.id)) or 0
    templates = session.scalar(select(func.count()).where(FaceTemplate.person_id == person.id)) or 0
    good = templates
    if model_id is not None:
        good = (
            session.scalar(
                select(func.count()).where(
                    FaceTemplate.person_id == person.id, FaceTemplate.model_id == model_id
                )
            )
            or 0
        )
    return PersonRow(
        person,
        unit,
        building.number if building else "",
        int(cards),
        session.get(Pin, person.id) is not None,
        int(templates),
        int(good),
        active_face_consent(session, person.id) is not None,
    )


def list_people(
    session: Session, query: str = "", limit: int = 500, model_id: str | None = None
) -> list[PersonRow]:
    statement = select(Person).order_by(Person.erased_at.is_not(None), Person.external_id)
    if query:
        like = f"%{query}%"
        statement = statement.where(
            or_(Person.external_id.ilike(like), Person.display_name.ilike(like))
        )
    return [person_row(session, p, model_id) for p in session.scalars(statement.limit(limit))]
