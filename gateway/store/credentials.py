"""Credentials: face-recognition consent, encrypted face templates, Wiegand cards and PINs.

Cards are bound to their Wiegand frame format; PINs are argon2id hashes (the door reads the hash
in its transaction and verifies it outside, see gateway.access.policy); an erased person takes
no new credential; `set_two_factor` makes the door ask for a second credential of that person.

Two rules guard every face template: a consent record (scope "face", not withdrawn) must exist,
and the person must hold another credential (a card or a PIN) so that face is never the only way
in (a false reject or a camera fault must not lock a resident out). Withdrawing consent deletes
the person's templates in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from firmware_bridge.wiegand import CARD_FORMATS
from gateway.store.crypto import TemplateCipher, template_aad
from gateway.store.errors import CredentialPolicyError, NotFound
from gateway.store.people import get_person
from gateway.store.schema_credentials import Card, FaceTemplate, Pin, smallest_card_format
from gateway.store.schema_people import Consent, Person
from gateway.store.secrets_hash import hash_pin, verify_pin

FACE_SCOPE = "face"


class PersonErased(CredentialPolicyError):
    """The person was erased: their row stays only as a pseudonym and takes no credential."""


class CardFormatError(ValueError):
    """The card's fields do not fit the Wiegand format it is registered in."""


def record_consent(
    session: Session, person_id: int, *, text_version: str, taken_by: str, taken_at: datetime
) -> Consent:
    person = get_person(session, person_id)
    if person.erased_at is not None:
        raise CredentialPolicyError(f"person {person_id} is erased")
    consent = Consent(
        person_id=person_id,
        scope=FACE_SCOPE,
        text_version=text_version,
        taken_by=taken_by,
        taken_at=taken_at,
    )
    session.add(consent)
    session.flush()
    return consent


def active_face_consent(session: Session, person_id: int) -> Consent | None:
    return session.scalars(
        select(Consent)
        .where(
            Consent.person_id == person_id,
            Consent.scope == FACE_SCOPE,
            Consent.withdrawn_at.is_(None),
        )
        .order_by(Consent.taken_at.desc(), Consent.id.desc())
        .limit(1)
    ).one_or_none()


def withdraw_consent(session: Session, person_id: int, at: datetime) -> int:
    """Withdraw every face consent of the person and delete their templates; returns how many."""
    consents = session.scalars(
        select(Consent).where(Consent.person_id == person_id, Consent.withdrawn_at.is_(None))
    ).all()
    for consent in consents:
        consent.withdrawn_at = at
    deleted = session.execute(delete(FaceTemplate).where(FaceTemplate.person_id == person_id))
    session.flush()
    return int(deleted.rowcount)  # type: ignore[attr-defined]


def has_alternative_credential(session: Session, person_id: int) -> bool:
    """True when the person holds a card or a PIN (a way in that is not their face)."""
    cards = session.scalar(
        select(func.count()).select_from(Card).where(Card.person_id == person_id)
    )
    pins = session.scalar(select(func.count()).select_from(Pin).where(Pin.person_id == person_id))
    return bool(cards) or bool(pins)


def require_face_consent(session: Session, person_id: int) -> Consent:
    consent = active_face_consent(session, person_id)
    if consent is None:
        raise CredentialPolicyError(
            f"person {person_id} has no face-recognition consent on record: take consent first"
        )
    return consent


def require_alternative_credential(session: Session, person_id: int) -> None:
    if not has_alternative_credential(session, person_id):
        raise CredentialPolicyError(
            f"person {person_id} has no card or PIN: face is never the only credential"
        )


def store_face_template(
    session: Session,
    cipher: TemplateCipher,
    person_id: int,
    vector: npt.ArrayLike,
    model_id: str,
) -> FaceTemplate:
    """Encrypt and store one template, after the consent and alternative-credential checks."""
    person = get_person(session, person_id)
    if person.erased_at is not None:
        raise CredentialPolicyError(f"person {person_id} is erased")
    consent = require_face_consent(session, person_id)
    require_alternative_credential(session, person_id)
    template = seal_face_template(cipher, person_id, consent.id, vector, model_id)
    session.add(template)
    session.flush()
    return template


def seal_face_template(
    cipher: TemplateCipher, person_id: int, consent_id: int, vector: npt.ArrayLike, model_id: str
) -> FaceTemplate:
    """The encrypted row for one template, bound to person and model (no policy checks: callers
    check consent and the non-face credential first, one by one or in bulk)."""
    data = np.asarray(vector, dtype=np.float32).reshape(-1)
    dimension = int(data.shape[0])
    if dimension == 0:
        raise ValueError("empty template")
    sealed = cipher.seal(data, template_aad("face", str(person_id), model_id, dimension))
    return FaceTemplate(
        person_id=person_id,
        consent_id=consent_id,
        model_id=model_id,
        dimension=dimension,
        key_id=sealed.key_id,
        nonce=sealed.nonce,
        ciphertext=sealed.ciphertext,
    )


def _require_not_erased(session: Session, person_id: int) -> Person:
    person = get_person(session, person_id)
    if person.erased_at is not None:
        raise PersonErased(f"person {person_id} is erased: no credential can be added")
    return person


def add_card(
    session: Session, person_id: int, facility: int, number: int, format_bits: int | None = None
) -> Card:
    """Register a Wiegand card in its frame format (26, 34 or 37 bits; None: the shortest
    format the fields fit). (facility, number) is unique across the store."""
    _require_not_erased(session, person_id)
    bits = smallest_card_format(facility, number) if format_bits is None else format_bits
    layout = CARD_FORMATS.get(bits)
    if layout is None:
        raise CardFormatError(f"no {bits}-bit card format (known: {sorted(CARD_FORMATS)})")
    if not (0 <= facility <= layout.max_facility and 0 <= number <= layout.max_card):
        raise CardFormatError(
            f"a {bits}-bit card holds facility 0..{layout.max_facility} and number "
            f"0..{layout.max_card}; got {facility}/{number}"
        )
    card = Card(person_id=person_id, facility=facility, number=number, format_bits=bits)
    session.add(card)
    session.flush()
    return card


@dataclass(frozen=True)
class CardLookup:
    """Who holds a card read at the door; `reason` is "ok", "unknown_card" or
    "card_format_mismatch" (the fields of a registered card, in another frame format)."""

    holder: int | None
    reason: str


def find_card(session: Session, format_bits: int, facility: int, number: int) -> CardLookup:
    """Look a card up by its fields and frame format (one indexed unique lookup)."""
    card = session.scalars(
        select(Card).where(Card.facility == facility, Card.number == number)
    ).one_or_none()
    if card is None:
        return CardLookup(None, "unknown_card")
    if card.format_bits != format_bits:
        return CardLookup(None, "card_format_mismatch")
    return CardLookup(card.person_id, "ok")


def find_card_holder(session: Session, facility: int, number: int) -> int | None:
    """The person id holding a card, whatever its format (an indexed unique lookup)."""
    return session.scalar(
        select(Card.person_id).where(Card.facility == facility, Card.number == number)
    )


def set_pin(session: Session, person_id: int, pin: str) -> None:
    """Set or replace the person's PIN (argon2id hash only)."""
    _require_not_erased(session, person_id)
    existing = session.get(Pin, person_id)
    if existing is None:
        session.add(Pin(person_id=person_id, pin_hash=hash_pin(pin)))
    else:
        existing.pin_hash = hash_pin(pin)
    session.flush()


def check_pin(session: Session, person_id: int, pin: str) -> bool:
    stored = session.get(Pin, person_id)
    if stored is None:
        raise NotFound(f"person {person_id} has no PIN")
    return verify_pin(stored.pin_hash, pin)


def pin_hash_of(session: Session, person_id: int) -> str | None:
    """The stored argon2id hash of the person's PIN, or None (read in the door's transaction,
    verified outside it: argon2 must not run while the store's write lock is held)."""
    stored = session.get(Pin, person_id)
    return None if stored is None else stored.pin_hash


def set_two_factor(session: Session, person_id: int, required: bool, source: str) -> bool:
    """Require (or stop requiring) a second credential for this person; returns True when the
    setting changed. `source` is "staff" or "confusable"."""
    person = _require_not_erased(session, person_id)
    if person.two_factor == required:
        return False
    person.two_factor = required
    person.two_factor_source = source if required else None
    session.flush()
    return True
