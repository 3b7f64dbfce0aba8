"""Request and response bodies of the JSON API (they make its OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from gateway.application.visitor_codes import MAX_USES
from provisioning.people_service import PersonInput, PersonRow


class Credentials(BaseModel):
    username: str = Field(max_length=200)
    password: str = Field(max_length=256)


class SessionOut(BaseModel):
    csrf_token: str
    role: str


class PersonOut(BaseModel):
    id: int
    external_id: str
    display_name: str | None
    role: str
    building: str
    unit_number: str | None
    room_number: str | None
    valid_from: datetime
    valid_until: datetime | None
    active: bool
    erased: bool
    cards: int
    has_pin: bool
    face_templates: int
    good_face_templates: int = Field(
        description="Templates made by the running model (the ones the door searches); "
        "fewer than 3 for a face-enrolled person is a warning"
    )
    too_few_templates: bool
    two_factor: bool = Field(
        description="The door asks for a second credential (face + PIN/card, card + PIN)"
    )
    two_factor_source: str | None = Field(description='"staff" or "confusable"')
    version: str


class PersonUpdate(PersonInput):
    version: str = Field(max_length=64)


class EventOut(BaseModel):
    id: str
    occurred_at: datetime
    door: str
    method: str
    verdict: str
    reason: str
    person: str
    score: float | None
    call_id: str | None = None  # the visitor call the event belongs to (method `call`)


class AlertOut(BaseModel):
    id: int
    kind: str
    severity: str
    occurred_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None


class CodeRequest(BaseModel):
    unit_number: str = Field(min_length=1, max_length=16)
    room_number: str = Field(min_length=1, max_length=16)
    valid_from: datetime
    valid_until: datetime
    max_uses: int = Field(1, ge=1, le=MAX_USES)


class CodeOut(BaseModel):
    id: int
    code: str


class WatchOut(BaseModel):
    external_id: str
    category: str
    model_id: str
    version: int
    updated_at: datetime


class StatusOut(BaseModel):
    door_state: str
    checks: list[dict[str, Any]]


def person_out(row: PersonRow) -> PersonOut:
    p = row.person
    return PersonOut(
        id=p.id,
        external_id=p.external_id,
        display_name=p.display_name,
        role=p.role.value,
        building=row.building,
        unit_number=row.unit.unit_number if row.unit else None,
        room_number=row.unit.room_number if row.unit else None,
        valid_from=p.valid_from,
        valid_until=p.valid_until,
        active=p.active,
        erased=p.erased_at is not None,
        cards=row.cards,
        has_pin=row.has_pin,
        face_templates=row.templates,
        good_face_templates=row.good_templates,
        too_few_templates=row.too_few_templates,
        two_factor=p.two_factor,
        two_factor_source=p.two_factor_source,
        version=row.version,
    )
