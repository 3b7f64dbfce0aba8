"""The station's versioned deltas: shared checks, and the watch-list delta (people: people_sync);
`StationSync` (station_sync) is the command that applies them.

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
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.application.actor import Actor
from gateway.application.refused import Refused
from gateway.store.alerts_audit import append_audit
from gateway.store.schema_people import Building, Door, Unit
from gateway.store.store import Store
from gateway.store.watchlist import (
    advance_sync_version,
    remove_watchlist_entry,
    sync_version,
    upsert_watchlist_entry,
)

Progress = Callable[[int], None]


class SyncRefused(Refused):
    """A delta that cannot be applied; `code` is the station result's error code."""


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


def check_versions(session: Session, stream: str, args: dict[str, Any]) -> int:
    version, base = args.get("version"), args.get("from_version")
    if not isinstance(version, int) or not isinstance(base, int):
        raise SyncRefused("malformed", "version and from_version must be integers")
    current = sync_version(session, stream)
    if version <= current:
        raise SyncRefused("stale_version", f"{stream} is at {current}; delta {version} is old")
    if base != current:
        raise SyncRefused("version_gap", f"{stream} is at {current}; delta builds on {base}")
    return version


def refuse_other_models(items: list[dict[str, Any]], running_model: str, key: str) -> None:
    for item in items:
        if key in item and item.get("model_id") != running_model:
            raise SyncRefused(
                "model_mismatch",
                f"{item.get('external_id')}: template from model {item.get('model_id')!r}, "
                f"the gateway runs {running_model!r}",
            )


def delta_items(args: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = args.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise SyncRefused("malformed", f"{key} must be a list of objects")
    return items


def delta_removes(args: dict[str, Any]) -> list[str]:
    removes = args.get("removes", [])
    if not isinstance(removes, list) or not all(isinstance(r, str) for r in removes):
        raise SyncRefused("malformed", "removes must be a list of external ids")
    return removes


def audit_delta(session: Session, actor: Actor, outcome: SyncOutcome, at: datetime) -> None:
    """The delta's audit row, in its own transaction."""
    append_audit(
        session,
        actor=actor.name,
        action=f"sync_{outcome.stream}",
        target=f"version:{outcome.version} upserted:{outcome.upserted} removed:{outcome.removed}",
        occurred_at=at,
        source_address=actor.source_address,
    )


def apply_watchlist_delta(
    store: Store,
    args: dict[str, Any],
    running_model: str,
    at: datetime,
    actor: Actor | None = None,
) -> SyncOutcome:
    upserts, removes = delta_items(args, "upserts"), delta_removes(args)
    refuse_other_models(upserts, running_model, "vector")
    with store.sessions.writing() as session:
        version = check_versions(session, "watchlist", args)
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
        outcome = SyncOutcome("watchlist", version, len(upserts), removed)
        if actor is not None:
            audit_delta(session, actor, outcome, at)
    return outcome


def parse_time(value: object, what: str, optional: bool = False) -> datetime | None:
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


class UnitFinder:
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
