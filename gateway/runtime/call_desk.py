"""The call desk: visitor calls at this door, from the call key to the resident's answer.

The door thread hands it the unit typed with the call key (`call_key`); the station link's
command worker hands it verified `answer_call` commands (`answer`); its own thread ends calls
whose ring window passed (missed). Every outcome is an access event of method `call` with the
call id and its outbox message, written before anything else happens: an accept's grant is
committed before the door thread is asked to release. A resident's answer is checked like their
remote open (`requester_check`, the same function) and the resident must live in the called
unit, BEFORE the answer may touch the call: a refused answerer (inactive, unknown, not allowed
through this door, another unit's resident) leaves the call ringing for the real resident. The
caller's snapshot is held in memory (`CallSnapshots`) and dropped when the call ends. One lock
serialises the state machine and its events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.access.call_snapshots import CallSnapshots
from gateway.access.policy import AccessDecision, requester_check
from gateway.access.visitor_call import (
    Answered,
    AnswerRefused,
    Call,
    CallRefused,
    CallState,
    Placed,
    VisitorCalls,
)
from gateway.station.call_answer import CallAnswer, CallAnswerOutcome
from gateway.store.base import Method, Severity, Verdict
from gateway.store.schema_people import Person
from gateway.store.store import Store
from gateway.store.visitor_call_events import CalledUnit, find_called_unit, record_call_event

LOG = logging.getLogger(__name__)
RaiseAlert = Callable[[str, Severity, dict[str, Any]], object]
Release = Callable[[str, str | None, datetime], None]  # reason, grant id (event id), not after


@dataclass(frozen=True)
class DeskParts:
    """What the desk is lent by the service (all callables: no service lookups)."""

    take_snapshot: Callable[[], bytes | None]
    release: Release
    raise_alert: RaiseAlert
    on_decision: Callable[[AccessDecision], None] | None = None


class CallDesk:
    """Visitor calls of one gateway's door."""

    def __init__(
        self,
        calls: VisitorCalls,
        store: Store,
        parts: DeskParts,
        *,
        gateway_id: str,
        door_id: int,
        door_code: str,
        now: Callable[[], datetime],
        snapshots: CallSnapshots | None = None,
    ) -> None:
        self.calls = calls
        self.store = store
        self.parts = parts
        self.gateway_id = gateway_id
        self.door_id = door_id
        self.door_code = door_code
        self.now = now
        self.snapshots = snapshots or CallSnapshots()
        self.notify_outbox: Callable[[], None] = lambda: None
        self._units: dict[str, CalledUnit] = {}  # call id -> unit, while the call rings
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="call-desk", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                deadline = self.calls.next_deadline()
            wait = 1.0 if deadline is None else max(0.0, deadline - self.calls.clock())
            self._wake.wait(min(wait, 1.0))
            self._wake.clear()
            try:
                self.end_missed()
            except Exception:  # the desk must keep ending calls
                LOG.exception("visitor calls could not be ended")

    def end_missed(self) -> None:
        """Record the calls whose ring window passed as missed and drop their snapshots."""
        with self._lock:
            missed = self.calls.expire()
            for call in missed:
                self._ended(call, "missed", Verdict.DENY, "call_missed")
        if missed:
            self.notify_outbox()

    def call_key(self, typed: str) -> str | None:
        """The visitor keyed `typed` and the call key (door thread); the call id when it rings."""
        jpeg = self.parts.take_snapshot()
        with self._lock:
            try:
                with self.store.sessions.writing() as session:
                    placed = self._place(session, typed, jpeg)
            except SQLAlchemyError as error:
                LOG.error("visitor call to %r could not be recorded: %s", typed, error)
                return None  # a call placed in memory meanwhile ends as missed, unanswered
        call_id = None if placed is None else placed.call.call_id
        alert = None if placed is None else placed.alert
        self.notify_outbox()
        self._wake.set()
        if alert is not None:
            self.parts.raise_alert(
                "call_unit_scan",
                Severity.WARNING,
                {"units": alert.units, "window_s": alert.window_s},
            )
        LOG.info("visitor call to unit %s: %s", typed, call_id or "refused")
        return call_id

    def _place(self, session: Session, typed: str, jpeg: bytes | None) -> Placed | None:
        """Decide and record one call key; the call when it rings."""
        unit = find_called_unit(session, self.door_id, typed)
        outcome = None if unit is None else self.calls.place(self.door_code, typed)
        placed = outcome if isinstance(outcome, Placed) else None
        reason = "call_unknown_unit" if outcome is None else "call_placed"
        if isinstance(outcome, CallRefused):
            reason = outcome.reason
        record_call_event(
            session,
            gateway_id=self.gateway_id,
            door_id=self.door_id,
            call_id=None if placed is None else placed.call.call_id,
            outcome="refused" if placed is None else "placed",
            verdict=Verdict.DENY,  # a call opens nothing by itself
            reason=reason,
            occurred_at=self.now(),
            unit=None if unit is None else unit.as_body(),
        )
        if placed is not None and unit is not None:
            self._units[placed.call.call_id] = unit
            if jpeg is not None:  # held before the row is visible to the drain
                self.snapshots.put(placed.call.call_id, jpeg)
        return placed

    def answer(self, answer: CallAnswer) -> CallAnswerOutcome:
        """A verified `answer_call` (station command worker)."""
        by = str(answer.answered_by)
        with self._lock:
            try:
                outcome, call = self._answer(answer, by)
            except SQLAlchemyError as error:
                LOG.error("answer to call %s could not be recorded: %s", answer.call_id, error)
                return CallAnswerOutcome(False, "store_error")
        self.notify_outbox()
        if outcome.opened and call is not None:
            self.parts.release(f"call:{by}", outcome.event_id, answer.expires_at)
        if self.parts.on_decision is not None:
            opened, reason, event_id = outcome.opened, outcome.reason, outcome.event_id
            self.parts.on_decision(AccessDecision(Method.CALL, opened, reason, event_id=event_id))
        return outcome

    def _answer(self, answer: CallAnswer, by: str) -> tuple[CallAnswerOutcome, Call | None]:
        with self.store.sessions.writing() as session:
            at = self.now()
            check = requester_check(session, answer.answered_by, self.door_id, at)
            result: Answered | AnswerRefused
            if at >= answer.expires_at:
                result = AnswerRefused("expired")
            elif not check.allowed:
                result = AnswerRefused(f"answer_{check.reason}"[:64])
            elif not self._of_called_unit(session, check.person_id, answer.call_id):
                result = AnswerRefused("answer_not_of_called_unit")
            else:
                door = self.door_code if answer.door is None else answer.door
                result = self.calls.answer(answer.call_id, door, answer.accept)
            if isinstance(result, AnswerRefused):
                if result.reason == "call_window_passed" and result.call is not None:
                    self._ended(result.call, "missed", Verdict.DENY, "call_missed", session)
                unit = self._units.get(answer.call_id)
                event = record_call_event(
                    session,
                    gateway_id=self.gateway_id,
                    door_id=self.door_id,
                    call_id=answer.call_id,
                    outcome="refused",
                    verdict=Verdict.DENY,
                    reason=result.reason,
                    occurred_at=at,
                    unit=None if unit is None else unit.as_body(),
                    answered_by=by,
                    person_id=check.person_id,
                )
                return CallAnswerOutcome(False, result.reason, False, str(event.id)), None
            call = result.call
            accepted = call.state is CallState.ACCEPTED
            event_id = self._ended(
                call,
                "accepted" if accepted else "declined",
                Verdict.GRANT if accepted else Verdict.DENY,
                "call_accepted" if accepted else "call_declined",
                session,
                by,
                check.person_id,
            )
        return CallAnswerOutcome(True, f"call_{call.state}", accepted, event_id), call

    def _of_called_unit(self, session: Session, person_id: int | None, call_id: str) -> bool:
        """A resident may answer only a call to their own unit (the station itself: any)."""
        unit = self._units.get(call_id)
        if person_id is None or unit is None:  # the station, or a call not ringing (refused)
            return True
        person = session.get(Person, person_id)
        return person is not None and person.unit_id == unit.unit_id

    def _ended(
        self,
        call: Call,
        outcome: str,
        verdict: Verdict,
        reason: str,
        session: Session | None = None,
        by: str | None = None,
        person_id: int | None = None,
    ) -> str:
        """Record how a call ended and drop what was held for it (snapshot, unit)."""
        self.snapshots.discard(call.call_id)
        unit = self._units.pop(call.call_id, None)
        fields: dict[str, Any] = {
            "gateway_id": self.gateway_id,
            "door_id": self.door_id,
            "call_id": call.call_id,
            "outcome": outcome,
            "verdict": verdict,
            "reason": reason,
            "occurred_at": self.now(),
            "unit": None if unit is None else unit.as_body(),
            "answered_by": by,
            "person_id": person_id,
        }
        if session is not None:
            return str(record_call_event(session, **fields).id)
        with self.store.sessions.writing() as own:
            return str(record_call_event(own, **fields).id)

    def snapshot_of(self, call_id: str) -> bytes | None:
        """The ringing call's snapshot for the link (None once the call ended)."""
        return self.snapshots.get(call_id)
