"""Answering a visitor call through the application layer, without models or a broker: a real
store, the real call desk and its state machine, the door thread's real loop over the simulated
door hardware, one fake clock. Each case checks what the relay did and whether the call still
rings, not only what the outcome said."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.access.requester import Requester
from gateway.access.visitor_call import VisitorCalls
from gateway.application.call_answer import AnswerCallCommand, CallAnswer, CallAnswerOutcome
from gateway.config.access import VisitorCallConfig
from gateway.runtime.call_desk import CallDesk, DeskParts
from gateway.store.base import Method, Verdict
from gateway.store.schema_events import AccessEvent
from gateway.store.store import Store
from tests.access.door_rig import DoorRig, door_rig
from tests.application.running_door import RunningDoor
from tests.store.conftest import World

SNAPSHOT = b"\xff\xd8 a visitor \xff\xd9"


@dataclass
class CallRig:
    rig: DoorRig
    desk: CallDesk
    door: RunningDoor
    command: AnswerCallCommand
    # What the store held, as the door was asked to release: the grant's event, committed?
    committed_at_release: list[bool] = field(default_factory=list)

    def ring(self, unit: str) -> str:
        call_id = self.desk.call_key(unit)
        assert call_id is not None, f"unit {unit} did not ring"
        return call_id

    def answer(
        self, call_id: str, by: Requester, accept: bool = True, expires_in_s: float = 30
    ) -> CallAnswerOutcome:
        expires = self.rig.clock.wall() + timedelta(seconds=expires_in_s)
        outcome = self.command(CallAnswer("cmd-1", call_id, None, accept, by, expires))
        self.rig.loop.run_once(0.0)
        return outcome

    def ringing(self) -> list[str]:
        return [call.call_id for call in self.desk.calls.ringing]

    def event(self, event_id: str | None) -> AccessEvent:
        with self.rig.store.sessions.reading() as session:
            found = session.scalar(select(AccessEvent).where(AccessEvent.id == _uuid(event_id)))
        assert found is not None
        return found


def _uuid(event_id: str | None) -> uuid.UUID:
    assert event_id is not None
    return uuid.UUID(event_id)


@pytest.fixture
def calls(store: Store, world: World) -> Iterator[CallRig]:
    with door_rig(store, world.door_id) as rig:
        desk = CallDesk(
            VisitorCalls(VisitorCallConfig(), rig.clock.seconds, lambda: 10 * 60),
            store,
            DeskParts(take_snapshot=lambda: SNAPSHOT, raise_alert=lambda *_: None),
            gateway_id="gw-1",
            door_id=world.door_id,
            door_code="b3-main",
            now=rig.clock.wall,
        )
        committed: list[bool] = []

        def look(grant_id: str | None) -> None:
            with store.sessions.reading() as session:
                row = session.scalar(select(AccessEvent).where(AccessEvent.id == _uuid(grant_id)))
            committed.append(row is not None and row.verdict is Verdict.GRANT)

        door = RunningDoor(rig, before_grant=look)
        command = AnswerCallCommand(
            desk, store, door, door_id=world.door_id, now=rig.clock.wall, on_decision=None
        )
        yield CallRig(rig, desk, door, command, committed)


def test_the_called_resident_accepts_and_the_grant_is_committed_before_the_relay(
    calls: CallRig,
) -> None:
    call_id = calls.ring("101")
    assert calls.desk.snapshot_of(call_id) == SNAPSHOT
    outcome = calls.answer(call_id, Requester.resident("p-owner"))
    assert (outcome.ok, outcome.opened, outcome.reason) == (True, True, "call_accepted")
    assert calls.rig.release_count() == 1
    assert calls.committed_at_release == [True]
    event = calls.event(outcome.event_id)
    assert (event.method, event.verdict, event.call_id) == (Method.CALL, Verdict.GRANT, call_id)
    assert calls.ringing() == [] and calls.desk.snapshot_of(call_id) is None


def test_another_units_resident_is_refused_and_the_call_keeps_ringing(calls: CallRig) -> None:
    call_id = calls.ring("101")
    neighbour = calls.answer(call_id, Requester.resident("p-tenant"))
    staff = calls.answer(call_id, Requester.resident("p-staff"))  # lives in no unit
    unknown = calls.answer(call_id, Requester.resident("nobody"))
    assert [o.reason for o in (neighbour, staff, unknown)] == [
        "answer_not_of_called_unit",
        "answer_not_of_called_unit",
        "answer_unknown_person",
    ]
    assert not any(o.ok or o.opened for o in (neighbour, staff, unknown))
    assert calls.rig.release_count() == 0
    assert calls.ringing() == [call_id] and calls.desk.snapshot_of(call_id) == SNAPSHOT
    refused = calls.event(neighbour.event_id)
    assert (refused.verdict, refused.reason_code, refused.call_id) == (
        Verdict.DENY,
        "answer_not_of_called_unit",
        call_id,
    )
    assert calls.answer(call_id, Requester.resident("p-owner")).opened  # the real resident can


def test_an_expired_answer_opens_nothing_and_leaves_the_call_ringing(calls: CallRig) -> None:
    call_id = calls.ring("101")
    late = calls.answer(call_id, Requester.station("guard"), expires_in_s=-1)
    assert (late.ok, late.opened, late.reason) == (False, False, "expired")
    assert calls.rig.release_count() == 0 and calls.ringing() == [call_id]


def test_a_decline_ends_the_call_and_opens_nothing(calls: CallRig) -> None:
    call_id = calls.ring("101")
    declined = calls.answer(call_id, Requester.resident("p-owner"), accept=False)
    assert (declined.ok, declined.opened, declined.reason) == (True, False, "call_declined")
    assert calls.rig.release_count() == 0 and calls.ringing() == []
    again = calls.answer(call_id, Requester.resident("p-owner"))
    assert (again.ok, again.opened, again.reason) == (False, False, "call_ended")
    assert calls.rig.release_count() == 0


def test_the_station_answers_any_call_but_not_one_that_never_rang(calls: CallRig) -> None:
    never = calls.answer("0" * 32, Requester.station("guard"))
    assert (never.ok, never.opened, never.reason) == (False, False, "unknown_call")
    call_id = calls.ring("202")
    accepted = calls.answer(call_id, Requester.station("guard"))
    assert accepted.opened and calls.rig.release_count() == 1


def test_an_answer_after_the_ring_window_records_the_call_missed(calls: CallRig) -> None:
    call_id = calls.ring("101")
    calls.rig.clock.advance(VisitorCallConfig().ring_s + 1)
    late = calls.answer(call_id, Requester.resident("p-owner"))
    assert (late.ok, late.opened, late.reason) == (False, False, "call_window_passed")
    assert calls.rig.release_count() == 0 and calls.ringing() == []
    with calls.rig.store.sessions.reading() as session:
        reasons = session.scalars(
            select(AccessEvent.reason_code).where(AccessEvent.call_id == call_id)
        ).all()
    assert sorted(reasons) == ["call_missed", "call_placed", "call_window_passed"]
