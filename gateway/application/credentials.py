"""Credential commands: add or remove a card, set or remove the PIN, require two factors.

Each is one transaction with its audit row, shared by the staff page's HTML routes and the JSON
API. Every one refuses an erased person with NotFound, exactly as for a person that never
existed: an erased row keeps only its pseudonym and must never take a credential back. The last
card/PIN of someone with face templates cannot be removed (LastCredential): the face must never
become the only way in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.application.actor import Actor
from gateway.store.alerts_audit import append_audit
from gateway.store.credentials import add_card, set_pin, set_two_factor
from gateway.store.errors import NotFound
from gateway.store.people import get_person
from gateway.store.schema_credentials import Card, FaceTemplate, Pin
from gateway.store.schema_people import Person
from gateway.store.store import Store


class LastCredential(Exception):
    """Removing this would leave face templates as the only credential."""


class DuplicateCard(Exception):
    """The card (format, facility, number) is already registered."""


def live_person(session: Session, person_id: int) -> Person:
    """The person, unless unknown or erased (both NotFound)."""
    person = get_person(session, person_id)
    if person.erased_at is not None:
        raise NotFound(f"person {person_id} is erased")
    return person


def _check_not_last(session: Session, person_id: int) -> None:
    templates = session.scalar(select(func.count()).where(FaceTemplate.person_id == person_id))
    cards = session.scalar(select(func.count()).where(Card.person_id == person_id)) or 0
    pins = session.scalar(select(func.count()).where(Pin.person_id == person_id)) or 0
    if templates and int(cards) + int(pins) <= 1:
        raise LastCredential


class Credentials:
    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self._store = store
        self._now = now

    def add_card(
        self, person_id: int, facility: int, number: int, format_bits: int | None, actor: Actor
    ) -> int:
        """The new card's id. Raises NotFound, CardFormatError or DuplicateCard."""
        try:
            with self._store.sessions.writing() as session:
                live_person(session, person_id)
                card = add_card(session, person_id, facility, number, format_bits)
                target = f"person:{person_id} card:{card.id} format:{card.format_bits}"
                self._audit(session, actor, "add_card", target)
                return card.id
        except IntegrityError:
            raise DuplicateCard(f"card {facility}/{number} is already registered") from None

    def remove_card(self, person_id: int, card_id: int, actor: Actor) -> None:
        """Raises NotFound (person or card) or LastCredential."""
        with self._store.sessions.writing() as session:
            live_person(session, person_id)
            card = session.get(Card, card_id)
            if card is None or card.person_id != person_id:
                raise NotFound(f"person {person_id} has no card {card_id}")
            _check_not_last(session, person_id)
            session.delete(card)
            session.flush()
            self._audit(session, actor, "remove_card", f"person:{person_id} card:{card_id}")

    def set_pin(self, person_id: int, pin: str, actor: Actor) -> None:
        with self._store.sessions.writing() as session:
            live_person(session, person_id)
            set_pin(session, person_id, pin)
            self._audit(session, actor, "set_pin", f"person:{person_id}")

    def remove_pin(self, person_id: int, actor: Actor) -> None:
        """Raises NotFound (person or PIN) or LastCredential."""
        with self._store.sessions.writing() as session:
            live_person(session, person_id)
            if session.get(Pin, person_id) is None:
                raise NotFound(f"person {person_id} has no PIN")
            _check_not_last(session, person_id)
            session.execute(delete(Pin).where(Pin.person_id == person_id))
            self._audit(session, actor, "remove_pin", f"person:{person_id}")

    def set_two_factor(self, person_id: int, required: bool, actor: Actor) -> bool:
        """True when the setting changed (only a change is audited)."""
        with self._store.sessions.writing() as session:
            live_person(session, person_id)
            changed = set_two_factor(session, person_id, required, "staff")
            if changed:
                action = "set_two_factor" if required else "clear_two_factor"
                self._audit(session, actor, action, f"person:{person_id} source:staff")
            return changed

    def _audit(self, session: Session, actor: Actor, action: str, target: str) -> None:
        append_audit(
            session,
            actor=actor.name,
            action=action,
            target=target[:200],
            occurred_at=self._now(),
            source_address=actor.source_address,
        )
