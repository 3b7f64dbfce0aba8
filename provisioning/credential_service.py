"""Credential use cases the staff page and the API share: add a card, set a PIN, require two
factors. Each runs in the caller's writing() session (so the audit row commits with it) and
refuses an erased person with NotFound, exactly as for a person that never existed: an erased
row keeps only its pseudonym and must never take a credential back.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from gateway.store.credentials import add_card, set_pin, set_two_factor
from gateway.store.errors import NotFound
from gateway.store.people import get_person
from gateway.store.schema_credentials import Card
from gateway.store.schema_people import Person

CardFormatBits = Literal[26, 34, 37]


class CardIn(BaseModel):
    """A Wiegand card: its frame format (26, 34 or 37 bits; omitted: the shortest the fields
    fit), facility code and card number. The door refuses the same fields in another format."""

    model_config = ConfigDict(extra="forbid")

    facility: int = Field(ge=0, le=65535)
    number: int = Field(ge=0, le=2**19 - 1)
    format_bits: CardFormatBits | None = None


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pin: str = Field(pattern=r"^[0-9]{4,12}$")


class TwoFactorIn(BaseModel):
    """Whether the door asks this person for a second credential (face + PIN/card, card + PIN)."""

    model_config = ConfigDict(extra="forbid")

    required: bool


def live_person(session: Session, person_id: int) -> Person:
    """The person, unless unknown or erased (both NotFound)."""
    person = get_person(session, person_id)
    if person.erased_at is not None:
        raise NotFound(f"person {person_id} is erased")
    return person


def add_card_for(session: Session, person_id: int, card: CardIn) -> Card:
    """Raises NotFound, CardFormatError, or IntegrityError (card already registered)."""
    live_person(session, person_id)
    return add_card(session, person_id, card.facility, card.number, card.format_bits)


def set_pin_for(session: Session, person_id: int, body: PinIn) -> None:
    live_person(session, person_id)
    set_pin(session, person_id, body.pin)


def set_two_factor_for(session: Session, person_id: int, body: TwoFactorIn) -> bool:
    """Returns True when the setting changed."""
    live_person(session, person_id)
    return set_two_factor(session, person_id, body.required, "staff")
