"""Access decisions for one door: face, card, resident PIN, visitor code, local releases.

Every credential presented at the door goes through `AccessPolicy`, and every decision becomes an
access-event row written in the same transaction as its outbox row. A grant is returned only after
that transaction committed; if the store fails, the answer is a denial with reason `store_error`
(no unrecorded grant exists). Reason codes are stable strings for the event log and the station.

People set to two factors are not let in by one credential: the first one (face, card or PIN) is
recorded as `second_factor_required` and waits (`SecondFactorWaits`); a credential of another kind
of the same person within the window grants with reason `two_factor_ok`. Cards are matched with
their frame format. A PIN is checked against ONE stored argon2 hash (the resident number names
the person), read in a short read transaction and verified outside any write lock.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.access.requester import Requester
from gateway.access.second_factor import SecondFactorWaits
from gateway.store.base import Method, Verdict
from gateway.store.credentials import find_card, pin_hash_of
from gateway.store.events import record_access_event
from gateway.store.people import check_access
from gateway.store.schema_people import Person
from gateway.store.secrets_hash import hash_pin, verify_pin
from gateway.store.store import Store
from gateway.store.visitor_codes import redeem_visitor_code

LOG = logging.getLogger(__name__)
Now = Callable[[], datetime]
MAX_PERSON_ID = 2**31 - 1
DEFAULT_SECOND_FACTOR_WINDOW_S = 20.0


@functools.cache
def _dummy_pin_hash() -> str:
    """A hash to verify against when the resident number is unknown, so an unknown number
    costs the same argon2 run as a wrong PIN (the keypad's timing tells nothing)."""
    return hash_pin("00000000")


@dataclass(frozen=True)
class AccessDecision:
    """The outcome of one access attempt, as recorded."""

    method: Method
    granted: bool
    reason: str
    person_id: int | None = None
    score: float | None = None
    event_id: str | None = None  # the recorded event's id; also the door grant's replay guard


@dataclass(frozen=True)
class RequesterCheck:
    """Whether a station requester may open this door now, and who they are."""

    allowed: bool
    reason: str  # station_open, or the resident's check (ok, inactive, unknown_person, ...)
    person_id: int | None = None


def requester_check(
    session: Session, requested_by: Requester, door_id: int, at: datetime
) -> RequesterCheck:
    """The check of a remote open and of a visitor call's accept: the station itself may open;
    a resident must exist and be allowed through this door now (active, valid dates, schedule),
    like any other credential of theirs."""
    if not requested_by.is_resident:
        return RequesterCheck(True, "station_open")
    person_id = session.scalars(
        select(Person.id).where(Person.external_id == requested_by.name)
    ).one_or_none()
    if person_id is None:
        return RequesterCheck(False, "unknown_person")
    access = check_access(session, person_id, door_id, at)
    return RequesterCheck(access.allowed, access.reason, person_id)


@dataclass(frozen=True)
class _Attempt:
    method: Method
    granted: bool
    reason: str
    person_id: int | None = None
    score: float | None = None


class AccessPolicy:
    """Decides and records access attempts at one door of one gateway."""

    def __init__(
        self,
        store: Store,
        *,
        gateway_id: str,
        door_id: int,
        now: Now,
        second_factor: SecondFactorWaits | None = None,
    ) -> None:
        self.store = store
        self.gateway_id = gateway_id
        self.door_id = door_id
        self.now = now
        self.second_factor = second_factor or SecondFactorWaits(
            DEFAULT_SECOND_FACTOR_WINDOW_S, time.monotonic
        )
        self.counters: dict[str, int] = {}
        _dummy_pin_hash()  # made once per process, before the first keypad entry

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def _decide(
        self, method: Method, judge: Callable[[Session, datetime], _Attempt]
    ) -> AccessDecision:
        at = self.now()
        try:
            with self.store.sessions.writing() as session:
                attempt = judge(session, at)
                event, _ = record_access_event(
                    session,
                    gateway_id=self.gateway_id,
                    door_id=self.door_id,
                    method=attempt.method,
                    verdict=Verdict.GRANT if attempt.granted else Verdict.DENY,
                    reason_code=attempt.reason,
                    occurred_at=at,
                    person_id=attempt.person_id,
                    score=attempt.score,
                )
                event_id = str(event.id)
        except SQLAlchemyError as error:
            self._count("store_error")
            LOG.error("access decision (%s) could not be recorded: %s", method, error)
            return AccessDecision(method, False, "store_error")
        self._count(f"{attempt.method}.{'grant' if attempt.granted else 'deny'}")
        return AccessDecision(
            attempt.method,
            attempt.granted,
            attempt.reason,
            attempt.person_id,
            attempt.score,
            event_id,
        )

    def _person(
        self,
        session: Session,
        method: Method,
        person_id: int,
        at: datetime,
        score: float | None = None,
    ) -> _Attempt:
        check = check_access(session, person_id, self.door_id, at)
        return _Attempt(method, check.allowed, check.reason, person_id, score)

    def _credential(
        self,
        session: Session,
        method: Method,
        person_id: int,
        at: datetime,
        score: float | None = None,
    ) -> _Attempt:
        """A person's credential (face, card, PIN): their access check, then two factors."""
        attempt = self._person(session, method, person_id, at, score)
        if not attempt.granted:
            return attempt
        person = session.get(Person, person_id)
        if person is None or not person.two_factor:
            return attempt
        if self.second_factor.complete(person_id, method):
            return _Attempt(method, True, "two_factor_ok", person_id, score)
        self.second_factor.begin(person_id, method)
        return _Attempt(method, False, "second_factor_required", person_id, score)

    def face(self, identity: str, score: float) -> AccessDecision:
        """A track-level face grant from the recogniser (identity = str(person id))."""
        try:
            person_id = int(identity)
        except ValueError:
            return self._decide(
                Method.FACE,
                lambda s, at: _Attempt(Method.FACE, False, "unknown_person", None, score),
            )
        return self._decide(
            Method.FACE, lambda s, at: self._credential(s, Method.FACE, person_id, at, score)
        )

    def face_refused(
        self, identity: str | None, reason: str, score: float | None
    ) -> AccessDecision:
        """A face attempt refused before the store (e.g. liveness failed on a resident match)."""
        person_id = int(identity) if identity and identity.isdigit() else None

        def judge(session: Session, at: datetime) -> _Attempt:
            known = (
                person_id
                if person_id is not None
                and check_access(session, person_id, self.door_id, at).reason != "unknown_person"
                else None
            )
            return _Attempt(Method.FACE, False, reason, known, score)

        return self._decide(Method.FACE, judge)

    def card(self, format_bits: int, facility: int, number: int) -> AccessDecision:
        """A card read at the door, in its Wiegand frame format (26, 34 or 37 bits)."""

        def judge(session: Session, at: datetime) -> _Attempt:
            lookup = find_card(session, format_bits, facility, number)
            if lookup.holder is None:
                return _Attempt(Method.CARD, False, lookup.reason)
            return self._credential(session, Method.CARD, lookup.holder, at)

        return self._decide(Method.CARD, judge)

    def card_holder_known(self, format_bits: int, facility: int, number: int) -> bool:
        """Whether a card is registered in this format (a read-only lookup, nothing recorded)."""
        try:
            with self.store.sessions.reading() as session:
                return find_card(session, format_bits, facility, number).holder is not None
        except SQLAlchemyError as error:
            LOG.error("card lookup failed: %s", error)
            return False

    def card_refused(self, format_bits: int, facility: int, number: int) -> AccessDecision:
        """A registered card read while the reader is locked out: refused, and the event says
        why (`card_reader_locked`) and whose card it was."""

        def judge(session: Session, at: datetime) -> _Attempt:
            lookup = find_card(session, format_bits, facility, number)
            return _Attempt(Method.CARD, False, "card_reader_locked", lookup.holder)

        return self._decide(Method.CARD, judge)

    def _pin_matches(self, person_id: int | None, pin: str) -> bool:
        """Verify a PIN against the person's ONE stored hash, outside any write transaction."""
        stored = None
        if person_id is not None:
            with self.store.sessions.reading() as session:
                stored = pin_hash_of(session, person_id)
        if stored is None:
            verify_pin(_dummy_pin_hash(), pin)  # same cost as a wrong PIN
            return False
        return verify_pin(stored, pin)

    def resident_pin(self, resident_number: str, pin: str) -> AccessDecision:
        """`# number # PIN #` on the keypad: the resident number is the person's id."""
        person_id = int(resident_number) if resident_number.isdigit() else None
        if person_id is not None and not 0 < person_id <= MAX_PERSON_ID:
            person_id = None
        try:
            matched = self._pin_matches(person_id, pin)
        except SQLAlchemyError as error:
            self._count("store_error")
            LOG.error("PIN lookup failed: %s", error)
            return AccessDecision(Method.PIN, False, "store_error")

        def judge(session: Session, at: datetime) -> _Attempt:
            person = None if person_id is None else session.get(Person, person_id)
            if person is None or person.erased_at is not None:
                return _Attempt(Method.PIN, False, "unknown_resident")
            assert person_id is not None
            if not matched:
                return _Attempt(Method.PIN, False, "wrong_pin", person_id)
            return self._credential(session, Method.PIN, person_id, at)

        return self._decide(Method.PIN, judge)

    def keypad_digits(self, digits: str) -> AccessDecision:
        """`digits #` on the keypad: the PIN of a two-factor person the door is waiting for,
        else a visitor code (a visitor right behind a resident is not turned away)."""
        waiting = self.second_factor.waiting_for_pin()
        if waiting is None:
            return self.code(digits)
        try:
            matched = self._pin_matches(waiting, digits)
        except SQLAlchemyError as error:
            self._count("store_error")
            LOG.error("PIN lookup failed: %s", error)
            return AccessDecision(Method.PIN, False, "store_error")
        if matched:
            return self._decide(
                Method.PIN, lambda s, at: self._credential(s, Method.PIN, waiting, at)
            )

        def judge(session: Session, at: datetime) -> _Attempt:
            redemption = redeem_visitor_code(
                session, self.store.codes, door_id=self.door_id, code=digits, at=at
            )
            if redemption.granted:
                return _Attempt(Method.CODE, True, redemption.reason)
            return _Attempt(Method.PIN, False, "second_factor_failed", waiting)

        return self._decide(Method.PIN, judge)

    def code(self, code: str) -> AccessDecision:
        """A visitor code from the keypad; redeemed atomically (one use counted per grant)."""

        def judge(session: Session, at: datetime) -> _Attempt:
            redemption = redeem_visitor_code(
                session, self.store.codes, door_id=self.door_id, code=code, at=at
            )
            return _Attempt(Method.CODE, redemption.granted, redemption.reason)

        return self._decide(Method.CODE, judge)

    def remote(
        self, command_id: str, requested_by: Requester, expires_at: datetime
    ) -> AccessDecision:
        """A signed, verified remote open from the station link (the link checked signature,
        nonce and expiry, and parsed the requester strictly). Expiry is checked again here. The
        station itself opens as `station_open`; a resident must exist and be allowed through
        this door now (active, valid dates, schedule), like any other credential of theirs."""

        def judge(session: Session, at: datetime) -> _Attempt:
            if at >= expires_at:
                return _Attempt(Method.REMOTE, False, "expired")
            check = requester_check(session, requested_by, self.door_id, at)
            return _Attempt(Method.REMOTE, check.allowed, check.reason, check.person_id)

        LOG.info("remote open %s requested by %s", command_id, requested_by)
        return self._decide(Method.REMOTE, judge)

    def local_release(self, method: Method) -> AccessDecision:
        """Record a release the door hardware performed by itself (exit button, fire alarm)."""
        if method not in (Method.EXIT, Method.FIRE):
            raise ValueError(f"{method} is not a local release")
        reason = "exit_button" if method is Method.EXIT else "fire_release"
        return self._decide(method, lambda s, at: _Attempt(method, True, reason))
