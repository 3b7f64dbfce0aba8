"""Access decisions for one door: face, card, visitor code, and local releases (exit, fire).

Every credential presented at the door goes through `AccessPolicy`, and every decision becomes an
access-event row written in the same transaction as its outbox row. A grant is returned only after
that transaction committed; if the store fails, the answer is a denial with reason `store_error`
(no unrecorded grant exists). Reason codes are stable strings for the event log and the station.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.station.requester import Requester
from gateway.store.base import Method, Verdict
from gateway.store.credentials import find_card_holder
from gateway.store.events import record_access_event
from gateway.store.people import check_access
from gateway.store.schema_people import Person
from gateway.store.store import Store
from gateway.store.visitor_codes import redeem_visitor_code

LOG = logging.getLogger(__name__)
Now = Callable[[], datetime]


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
class _Attempt:
    method: Method
    granted: bool
    reason: str
    person_id: int | None = None
    score: float | None = None


class AccessPolicy:
    """Decides and records access attempts at one door of one gateway."""

    def __init__(self, store: Store, *, gateway_id: str, door_id: int, now: Now) -> None:
        self.store = store
        self.gateway_id = gateway_id
        self.door_id = door_id
        self.now = now
        self.counters: dict[str, int] = {}

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
            Method.FACE, lambda s, at: self._person(s, Method.FACE, person_id, at, score)
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

    def card(self, facility: int, number: int) -> AccessDecision:
        def judge(session: Session, at: datetime) -> _Attempt:
            holder = find_card_holder(session, facility, number)
            if holder is None:
                return _Attempt(Method.CARD, False, "unknown_card")
            return self._person(session, Method.CARD, holder, at)

        return self._decide(Method.CARD, judge)

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
            if not requested_by.is_resident:
                return _Attempt(Method.REMOTE, True, "station_open")
            person_id = session.scalars(
                select(Person.id).where(Person.external_id == requested_by.name)
            ).one_or_none()
            if person_id is None:
                return _Attempt(Method.REMOTE, False, "unknown_person")
            return self._person(session, Method.REMOTE, person_id, at)

        LOG.info("remote open %s requested by %s", command_id, requested_by)
        return self._decide(Method.REMOTE, judge)

    def local_release(self, method: Method) -> AccessDecision:
        """Record a release the door hardware performed by itself (exit button, fire alarm)."""
        if method not in (Method.EXIT, Method.FIRE):
            raise ValueError(f"{method} is not a local release")
        reason = "exit_button" if method is Method.EXIT else "fire_release"
        return self._decide(method, lambda s, at: _Attempt(method, True, reason))
