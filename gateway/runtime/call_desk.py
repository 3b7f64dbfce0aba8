"""The call desk: visitor calls at this door, from the call key to how each call ended.

The door thread hands it the unit typed with the call key (`call_key`); its own thread ends calls
whose ring window passed (missed). Answers are decided by the application's `AnswerCallCommand`
(who may answer: `requester_check`, lives in the called unit, expiry), which holds the desk's
lock (`serialised`) and hands the desk an allowed answer (`take_answer`) or a refusal to record
(`refuse_answer`). Every outcome is an access event of method `call` with the call id and its
outbox message. The caller's snapshot is held in memory (`CallSnapshots`) and dropped when the
call ends. One lock serialises the state machine and its events.
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
from gateway.access.visitor_call import (
    AnswerRefused,
    Call,
    CallRefused,
    CallState,
    Placed,
    VisitorCalls,
)
from gateway.application.call_answer import CallAnswer, CallAnswerOutcome
from gateway.store.base import Severity, Verdict
from gateway.store.store import Store
from gateway.store.visitor_call_events import CalledUnit, find_called_unit, record_call_event

LOG = logging.getLogger(__name__)
RaiseAlert = Callable[[str, Severity, dict[str, Any]], object]


@dataclass(frozen=True)
class DeskParts:
    """What the desk is lent by the service (all callables: no service lookups)."""

    take_snapshot: Callable[[], bytes | None]
    raise_alert: RaiseAlert


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
        self.outbox_listener: Callable[[], None] = lambda: None  # the station link's drain
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

    def serialised(self) -> threading.Lock:
        """The lock an answer is decided under (`AnswerCallCommand`)."""
        return self._lock

    def called_unit_id(self, call_id: str) -> int | None:
        unit = self._units.get(call_id)
        return None if unit is None else unit.unit_id

    def notify_outbox(self) -> None:
        self.outbox_listener()

    def refuse_answer(
        self, session: Session, call_id: str, reason: str, by: str, person_id: int | None
    ) -> CallAnswerOutcome:
        """Record a refused answer (under `serialised`); the call keeps ringing."""
        unit = self._units.get(call_id)
        event = record_call_event(
            session,
            gateway_id=self.gateway_id,
            door_id=self.door_id,
            call_id=call_id,
            outcome="refused",
            verdict=Verdict.DENY,
            reason=reason,
            occurred_at=self.now(),
            unit=None if unit is None else unit.as_body(),
            answered_by=by,
            person_id=person_id,
        )
        return CallAnswerOutcome(False, reason, False, str(event.id))

    def take_answer(
        self, session: Session, answer: CallAnswer, by: str, person_id: int | None
    ) -> CallAnswerOutcome:
        """An answer the application allowed (under `serialised`): the state machine decides
        whether the call takes it, and how it ended is recorded in `session`."""
        door = self.door_code if answer.door is None else answer.door
        result = self.calls.answer(answer.call_id, door, answer.accept)
        if isinstance(result, AnswerRefused):
            if result.reason == "call_window_passed" and result.call is not None:
                self._ended(result.call, "missed", Verdict.DENY, "call_missed", session)
            return self.refuse_answer(session, answer.call_id, result.reason, by, person_id)
        call = result.call
        accepted = call.state is CallState.ACCEPTED
        event_id = self._ended(
            call,
            "accepted" if accepted else "declined",
            Verdict.GRANT if accepted else Verdict.DENY,
            "call_accepted" if accepted else "call_declined",
            session,
            by,
            person_id,
        )
        return CallAnswerOutcome(True, f"call_{call.state}", accepted, event_id)

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
