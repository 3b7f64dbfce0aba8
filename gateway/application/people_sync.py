"""Applying a people delta: people, cards, face consent and templates, in ONE transaction.

Work is done in chunks of CHUNK people (a few set-based queries per chunk instead of a dozen per
person) so 10,000 people apply in seconds; the transaction still spans the whole delta, so a crash
or a refusal part-way leaves the previous set. The store's two template rules are enforced for
every template: an active face consent (existing, or given in the delta) and a card or PIN. The
templates are sealed by the store's own `seal_face_template`, the same code `store_face_template`
uses. People removed by a delta are deactivated, not erased (erasure is its own procedure).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.application.actor import Actor
from gateway.application.delta_sync import (
    SyncOutcome,
    SyncRefused,
    UnitFinder,
    audit_delta,
    check_versions,
    decode_vector,
    delta_items,
    delta_removes,
    parse_time,
    refuse_other_models,
)
from gateway.store.base import Role
from gateway.store.credentials import (
    FACE_SCOPE,
    has_alternative_credential,
    seal_face_template,
)
from gateway.store.schema_credentials import Card, FaceTemplate
from gateway.store.schema_people import Consent, Person
from gateway.store.store import Store
from gateway.store.watchlist import advance_sync_version

CHUNK = 500
Progress = Callable[[int], None]


@dataclass
class _Parsed:
    external_id: str
    role: Role
    unit_id: int | None
    fields: dict[str, Any]
    card: tuple[int, int] | None
    consent: dict[str, Any] | None
    templates: list[npt.NDArray[np.float32]] | None


def _parse(item: dict[str, Any], units: UnitFinder, at: datetime) -> _Parsed:
    external_id = item.get("external_id")
    if not isinstance(external_id, str) or not 0 < len(external_id) <= 64:
        raise SyncRefused("malformed", "person needs an external_id")
    try:
        role = Role(str(item.get("role")))
    except ValueError as error:
        raise SyncRefused("malformed", f"{external_id}: unknown role") from error
    unit_id = units.unit_id(item.get("unit"))
    if role is not Role.STAFF and unit_id is None:
        raise SyncRefused("malformed", f"{external_id}: a {role.value} needs a unit")
    card = item.get("card")
    card_key: tuple[int, int] | None = None
    if card is not None:
        if not isinstance(card, dict):
            raise SyncRefused("malformed", f"{external_id}: card must be an object")
        facility, number = card.get("facility"), card.get("number")
        if not isinstance(facility, int) or not isinstance(number, int):
            raise SyncRefused("malformed", f"{external_id}: card needs facility and number")
        card_key = (facility, number)
    templates = item.get("templates")
    if templates is not None and not isinstance(templates, list):
        raise SyncRefused("malformed", f"{external_id}: templates must be a list")
    consent = item.get("consent")
    display_name = item.get("display_name")
    return _Parsed(
        external_id,
        role,
        unit_id,
        {
            "display_name": display_name if isinstance(display_name, str) else None,
            "valid_from": parse_time(item.get("valid_from"), "valid_from") or at,
            "valid_until": parse_time(item.get("valid_until"), "valid_until", optional=True),
            "active": bool(item.get("active", True)),
        },
        card_key,
        consent if isinstance(consent, dict) else None,
        None if templates is None else [decode_vector(t, external_id) for t in templates],
    )


def _upsert_people(session: Session, parsed: list[_Parsed]) -> dict[str, Person]:
    ids = [p.external_id for p in parsed]
    people = {
        person.external_id: person
        for person in session.scalars(select(Person).where(Person.external_id.in_(ids)))
    }
    for entry in parsed:
        person = people.get(entry.external_id)
        if person is not None and person.erased_at is not None:
            raise SyncRefused("erased", f"{entry.external_id} was erased; enrol with a new id")
        if person is None:
            person = Person(external_id=entry.external_id)
            session.add(person)
            people[entry.external_id] = person
        person.role = entry.role
        person.unit_id = entry.unit_id
        for name, value in entry.fields.items():
            setattr(person, name, value)
    session.flush()
    return people


def _apply_cards(session: Session, parsed: list[_Parsed], people: dict[str, Person]) -> set[int]:
    """Add missing cards; returns the ids of people holding a card after this chunk."""
    wanted = {p.card: people[p.external_id].id for p in parsed if p.card is not None}
    numbers = [number for _facility, number in wanted]
    held = {
        (card.facility, card.number): card.person_id
        for card in session.scalars(select(Card).where(Card.number.in_(numbers)))
    }
    for key, person_id in wanted.items():
        holder = held.get(key)
        if holder is None:
            session.add(Card(person_id=person_id, facility=key[0], number=key[1]))
        elif holder != person_id:
            raise SyncRefused("card_in_use", f"card {key} is held by someone else")
    session.flush()
    return set(wanted.values())


def _apply_consents(
    session: Session, parsed: list[_Parsed], people: dict[str, Person], at: datetime
) -> dict[int, int]:
    """Record consents given in the delta where none is active; returns person id -> consent id."""
    person_ids = [people[p.external_id].id for p in parsed]
    active: dict[int, int] = {}
    for consent in session.scalars(
        select(Consent)
        .where(
            Consent.person_id.in_(person_ids),
            Consent.scope == FACE_SCOPE,
            Consent.withdrawn_at.is_(None),
        )
        .order_by(Consent.taken_at, Consent.id)
    ):
        assert consent.person_id is not None
        active[consent.person_id] = consent.id  # the newest wins (ordered ascending)
    created: list[tuple[int, Consent]] = []
    for entry in parsed:
        person_id = people[entry.external_id].id
        if entry.consent is None or person_id in active:
            continue
        consent = Consent(
            person_id=person_id,
            scope=FACE_SCOPE,
            text_version=str(entry.consent.get("text_version", ""))[:32],
            taken_by=str(entry.consent.get("taken_by", "station"))[:128],
            taken_at=parse_time(entry.consent.get("taken_at"), "consent.taken_at") or at,
        )
        session.add(consent)
        created.append((person_id, consent))
    session.flush()
    active.update({person_id: consent.id for person_id, consent in created})
    return active


def _apply_templates(
    session: Session,
    store: Store,
    parsed: list[_Parsed],
    people: dict[str, Person],
    consents: dict[int, int],
    card_holders: set[int],
    running_model: str,
) -> None:
    replaced = [people[p.external_id].id for p in parsed if p.templates is not None]
    if replaced:
        session.execute(delete(FaceTemplate).where(FaceTemplate.person_id.in_(replaced)))
    for entry in parsed:
        if not entry.templates:
            continue
        person_id = people[entry.external_id].id
        if person_id not in consents:
            raise SyncRefused("credential_policy", f"{entry.external_id}: no face consent")
        if person_id not in card_holders and not has_alternative_credential(session, person_id):
            raise SyncRefused(
                "credential_policy", f"{entry.external_id}: face is never the only credential"
            )
        for vector in entry.templates:
            session.add(
                seal_face_template(
                    store.cipher, person_id, consents[person_id], vector, running_model
                )
            )
    session.flush()


def apply_people_delta(
    store: Store,
    args: dict[str, Any],
    running_model: str,
    door_id: int,
    at: datetime,
    progress: Progress | None = None,
    actor: Actor | None = None,
) -> SyncOutcome:
    """Apply a people delta in one transaction; `progress(done)` is called after each chunk."""
    upserts, removes = delta_items(args, "upserts"), delta_removes(args)
    refuse_other_models(upserts, running_model, "templates")
    with store.sessions.writing() as session, session.no_autoflush:
        version = check_versions(session, "people", args)
        units = UnitFinder(session, door_id)
        for start in range(0, len(upserts), CHUNK):
            parsed = [_parse(item, units, at) for item in upserts[start : start + CHUNK]]
            people = _upsert_people(session, parsed)
            holders = _apply_cards(session, parsed, people)
            consents = _apply_consents(session, parsed, people, at)
            _apply_templates(session, store, parsed, people, consents, holders, running_model)
            if progress is not None:
                progress(start + len(parsed))
        removed = 0
        for person in session.scalars(select(Person).where(Person.external_id.in_(removes))):
            if person.active:
                person.active = False
                removed += 1
        advance_sync_version(session, "people", version, at)
        outcome = SyncOutcome("people", version, len(upserts), removed)
        if actor is not None:
            audit_delta(session, actor, outcome, at)
    return outcome
