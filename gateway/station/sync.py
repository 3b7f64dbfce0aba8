"""Applying the station's versioned deltas (watch-list and people) atomically.

A delta names the version it builds on (`from_version`, must equal the stored version) and the
version it produces (`version`, must be greater). Every template carries its `model_id`; if any
differs from the running model the whole delta is refused (`model_mismatch`) and nothing changes.
Each delta is applied in ONE write transaction: a crash or an error part-way leaves the old set.
Vectors travel as base64 of little-endian float32. People removed by a delta are deactivated (not
erased: erasure is its own audited procedure).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.store.base import Role
from gateway.store.credentials import (
    active_face_consent,
    add_card,
    find_card_holder,
    record_consent,
    store_face_template,
)
from gateway.store.errors import CredentialPolicyError, NotFound
from gateway.store.schema_credentials import FaceTemplate
from gateway.store.schema_people import Building, Door, Person, Unit
from gateway.store.store import Store
from gateway.store.watchlist import (
    advance_sync_version,
    remove_watchlist_entry,
    sync_version,
    upsert_watchlist_entry,
)

Progress = Callable[[int], None]


class SyncRefused(ValueError):
    """A delta that cannot be applied; `code` is the result's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SyncOutcome:
    stream: str
    version: int
    upserted: int
    removed: int


def decode_vector(b64: object, what: str) -> npt.NDArray[np.float32]:
    if not isinstance(b64, str):
        raise SyncRefused("malformed", f"{what}: vector must be base64 text")
    try:
        raw = base64.b64decode(b64, validate=True)
    except binascii.Error as error:
        raise SyncRefused("malformed", f"{what}: vector is not base64") from error
    if not raw or len(raw) % 4:
        raise SyncRefused("malformed", f"{what}: vector is not float32 data")
    vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not np.isfinite(vector).all():
        raise SyncRefused("malformed", f"{what}: vector has non-finite values")
    return vector


def encode_vector(vector: npt.ArrayLike) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def _versions(session: Session, stream: str, args: dict[str, Any]) -> int:
    version, base = args.get("version"), args.get("from_version")
    if not isinstance(version, int) or not isinstance(base, int):
        raise SyncRefused("malformed", "version and from_version must be integers")
    current = sync_version(session, stream)
    if version <= current:
        raise SyncRefused("stale_version", f"{stream} is at {current}; delta {version} is old")
    if base != current:
        raise SyncRefused("version_gap", f"{stream} is at {current}; delta builds on {base}")
    return version


def _check_models(items: list[dict[str, Any]], running_model: str, key: str) -> None:
    for item in items:
        if key in item and item.get("model_id") != running_model:
            raise SyncRefused(
                "model_mismatch",
                f"{item.get('external_id')}: template from model {item.get('model_id')!r}, "
                f"the gateway runs {running_model!r}",
            )


def _items(args: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = args.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise SyncRefused("malformed", f"{key} must be a list of objects")
    return items


def _removes(args: dict[str, Any]) -> list[str]:
    removes = args.get("removes", [])
    if not isinstance(removes, list) or not all(isinstance(r, str) for r in removes):
        raise SyncRefused("malformed", "removes must be a list of external ids")
    return removes


def apply_watchlist_delta(
    store: Store, args: dict[str, Any], running_model: str, at: datetime
) -> SyncOutcome:
    upserts, removes = _items(args, "upserts"), _removes(args)
    _check_models(upserts, running_model, "vector")
    with store.sessions.writing() as session:
        version = _versions(session, "watchlist", args)
        for item in upserts:
            external_id, category = item.get("external_id"), item.get("category")
            if not isinstance(external_id, str) or not isinstance(category, str):
                raise SyncRefused("malformed", "watch-list entries need external_id and category")
            upsert_watchlist_entry(
                session,
                store.cipher,
                external_id=external_id,
                category=category,
                model_id=running_model,
                vector=decode_vector(item.get("vector"), external_id),
                version=version,
                at=at,
            )
        removed = sum(remove_watchlist_entry(session, external_id) for external_id in removes)
        advance_sync_version(session, "watchlist", version, at)
    return SyncOutcome("watchlist", version, len(upserts), removed)


def _time(value: object, what: str, optional: bool = False) -> datetime | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise SyncRefused("malformed", f"{what} must be an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise SyncRefused("malformed", f"{what} is not an ISO 8601 time") from error
    if parsed.tzinfo is None:
        raise SyncRefused("malformed", f"{what} needs a time zone")
    return parsed


class _UnitFinder:
    """Finds (or creates) the unit of a person by building number, unit and room, in our site."""

    def __init__(self, session: Session, door_id: int) -> None:
        self.session = session
        door = session.get(Door, door_id)
        if door is None:
            raise SyncRefused("no_door", "the gateway's door is not in the store")
        building = session.get(Building, door.building_id)
        assert building is not None
        self.site_id = building.site_id
        self._cache: dict[tuple[str, str, str], int] = {}

    def unit_id(self, spec: object) -> int | None:
        if spec is None:
            return None
        if not isinstance(spec, dict):
            raise SyncRefused("malformed", "unit must be an object")
        key = (
            str(spec.get("building")),
            str(spec.get("unit_number")),
            str(spec.get("room_number")),
        )
        if key in self._cache:
            return self._cache[key]
        building = self.session.scalars(
            select(Building).where(Building.site_id == self.site_id, Building.number == key[0])
        ).first()
        if building is None:
            building = Building(site_id=self.site_id, number=key[0])
            self.session.add(building)
            self.session.flush()
        unit = self.session.scalars(
            select(Unit).where(
                Unit.building_id == building.id,
                Unit.unit_number == key[1],
                Unit.room_number == key[2],
            )
        ).first()
        if unit is None:
            unit = Unit(building_id=building.id, unit_number=key[1], room_number=key[2])
            self.session.add(unit)
            self.session.flush()
        self._cache[key] = unit.id
        return unit.id


def _apply_person(
    session: Session,
    store: Store,
    units: _UnitFinder,
    item: dict[str, Any],
    running_model: str,
    at: datetime,
) -> None:
    external_id = item.get("external_id")
    if not isinstance(external_id, str) or not 0 < len(external_id) <= 64:
        raise SyncRefused("malformed", "person needs an external_id")
    try:
        role = Role(str(item.get("role")))
    except ValueError as error:
        raise SyncRefused("malformed", f"{external_id}: unknown role") from error
    person = session.scalars(select(Person).where(Person.external_id == external_id)).one_or_none()
    if person is not None and person.erased_at is not None:
        raise SyncRefused("erased", f"{external_id} was erased; enrol with a new id")
    if person is None:
        person = Person(external_id=external_id)
        session.add(person)
    unit_id = units.unit_id(item.get("unit"))
    if role is not Role.STAFF and unit_id is None:
        raise SyncRefused("malformed", f"{external_id}: a {role.value} needs a unit")
    person.display_name = item.get("display_name")
    person.role = role
    person.unit_id = unit_id
    person.valid_from = _time(item.get("valid_from"), "valid_from") or at
    person.valid_until = _time(item.get("valid_until"), "valid_until", optional=True)
    person.active = bool(item.get("active", True))
    session.flush()
    card = item.get("card")
    if isinstance(card, dict):
        facility, number = card.get("facility"), card.get("number")
        if not isinstance(facility, int) or not isinstance(number, int):
            raise SyncRefused("malformed", f"{external_id}: card needs facility and number")
        holder = find_card_holder(session, facility, number)
        if holder is None:
            add_card(session, person.id, facility, number)
        elif holder != person.id:
            raise SyncRefused("card_in_use", f"{external_id}: card is held by someone else")
    consent = item.get("consent")
    if isinstance(consent, dict) and active_face_consent(session, person.id) is None:
        record_consent(
            session,
            person.id,
            text_version=str(consent.get("text_version", "")),
            taken_by=str(consent.get("taken_by", "station")),
            taken_at=_time(consent.get("taken_at"), "consent.taken_at") or at,
        )
    if "templates" in item:
        templates = item["templates"]
        if not isinstance(templates, list):
            raise SyncRefused("malformed", f"{external_id}: templates must be a list")
        session.execute(delete(FaceTemplate).where(FaceTemplate.person_id == person.id))
        for template in templates:
            vector = decode_vector(template, external_id)
            try:
                store_face_template(session, store.cipher, person.id, vector, running_model)
            except (CredentialPolicyError, NotFound) as error:
                raise SyncRefused("credential_policy", f"{external_id}: {error}") from error


def apply_people_delta(
    store: Store,
    args: dict[str, Any],
    running_model: str,
    door_id: int,
    at: datetime,
    progress: Progress | None = None,
) -> SyncOutcome:
    """People, their cards, consent and templates, in one transaction (all or nothing)."""
    upserts, removes = _items(args, "upserts"), _removes(args)
    _check_models(upserts, running_model, "templates")
    with store.sessions.writing() as session:
        version = _versions(session, "people", args)
        units = _UnitFinder(session, door_id)
        for index, item in enumerate(upserts):
            _apply_person(session, store, units, item, running_model, at)
            if progress is not None:
                progress(index + 1)
        removed = 0
        for external_id in removes:
            person = session.scalars(
                select(Person).where(Person.external_id == external_id)
            ).one_or_none()
            if person is not None and person.active:
                person.active = False
                removed += 1
        advance_sync_version(session, "people", version, at)
    return SyncOutcome("people", version, len(upserts), removed)
