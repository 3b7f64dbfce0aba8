"""Answer a visitor call: the one place a resident's (or the station's) answer is decided.

Rules, in order, all inside one transaction held under the call desk's lock:
- an answer past its own expiry is refused;
- the answerer is checked like a remote open (`requester_check`, the same function): unknown,
  inactive, not yet valid or not allowed through this door is refused;
- a resident may answer only a call to the unit they live in (the station: any call);
- only then may the answer touch the call's state machine (`RingingCalls.take_answer`).
A refused answer is recorded and leaves the call ringing for the real resident. An accept's
grant (its event and outbox row) is committed before the door is asked to release, and the
release is bounded by the answer's expiry, as a remote open's is. Station commands (and the
station console through them) reach the door's calls only through `AnswerCallCommand`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.access.policy import AccessDecision, requester_check
from gateway.access.requester import Requester
from gateway.application.parts import DoorView
from gateway.application.release import release_until
from gateway.store.base import Method
from gateway.store.schema_people import Person
from gateway.store.store import Store

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallAnswer:
    """A verified answer for the application to decide on (call state, requester, door, event)."""

    command_id: str
    call_id: str
    door: str | None  # None: the call's own door
    accept: bool
    answered_by: Requester
    expires_at: datetime


@dataclass(frozen=True)
class CallAnswerOutcome:
    """`ok`: the answer was taken (accepted and the door released, or declined)."""

    ok: bool
    reason: str  # call_accepted | call_declined | the refusal's reason code
    opened: bool = False
    event_id: str | None = None


class RingingCalls(Protocol):
    """The call desk of this door: its calls' state machine and how their ends are recorded."""

    def serialised(self) -> AbstractContextManager[Any]:
        """Held while an answer is decided: the desk's state machine and its events' lock."""
        ...

    def called_unit_id(self, call_id: str) -> int | None:
        """The unit the ringing call `call_id` rings (None: not ringing)."""
        ...

    def refuse_answer(
        self, session: Session, call_id: str, reason: str, by: str, person_id: int | None
    ) -> CallAnswerOutcome:
        """Record a refused answer; the call keeps ringing."""
        ...

    def take_answer(
        self,
        session: Session,
        answer: CallAnswer,
        by: str,
        person_id: int | None,
    ) -> CallAnswerOutcome:
        """Pass an allowed answer to the call's state machine and record how it ended (or why
        the call refused it: not ringing, window passed, another door)."""
        ...

    def notify_outbox(self) -> None:
        """Wake the station link's drain: new events are in the outbox."""
        ...


def lives_in_called_unit(session: Session, person_id: int | None, unit_id: int | None) -> bool:
    """A resident answers only their own unit's call; the station (no person) or a call that is
    not ringing (the state machine refuses it next) pass here."""
    if person_id is None or unit_id is None:
        return True
    person = session.get(Person, person_id)
    return person is not None and person.unit_id == unit_id


class AnswerCallCommand:
    def __init__(
        self,
        calls: RingingCalls,
        store: Store,
        door: DoorView,
        *,
        door_id: int,
        now: Callable[[], datetime],
        on_decision: Callable[[AccessDecision], None] | None = None,
    ) -> None:
        self._calls = calls
        self._store = store
        self._door = door
        self._door_id = door_id
        self._now = now
        self._on_decision = on_decision

    def __call__(self, answer: CallAnswer) -> CallAnswerOutcome:
        by = str(answer.answered_by)
        try:
            with self._calls.serialised(), self._store.sessions.writing() as session:
                outcome = self._decide(session, answer, by)
        except SQLAlchemyError as error:
            LOG.error("answer to call %s could not be recorded: %s", answer.call_id, error)
            return CallAnswerOutcome(False, "store_error")
        self._calls.notify_outbox()
        if outcome.opened:  # committed above: the grant's event is in the outbox
            release_until(self._door, self._now, f"call:{by}", outcome.event_id, answer.expires_at)
        if self._on_decision is not None:
            decision = AccessDecision(
                Method.CALL, outcome.opened, outcome.reason, event_id=outcome.event_id
            )
            self._on_decision(decision)
        return outcome

    def _decide(self, session: Session, answer: CallAnswer, by: str) -> CallAnswerOutcome:
        at = self._now()
        check = requester_check(session, answer.answered_by, self._door_id, at)
        refusal: str | None = None
        if at >= answer.expires_at:
            refusal = "expired"
        elif not check.allowed:
            refusal = f"answer_{check.reason}"[:64]
        elif not lives_in_called_unit(
            session, check.person_id, self._calls.called_unit_id(answer.call_id)
        ):
            refusal = "answer_not_of_called_unit"
        if refusal is not None:
            return self._calls.refuse_answer(session, answer.call_id, refusal, by, check.person_id)
        return self._calls.take_answer(session, answer, by, check.person_id)
