"""Remote open through the application layer, without models: a real store and AccessPolicy, the
door thread's real loop over the simulated door hardware, one fake clock. Each case checks what
the relay did, not only what the outcome said."""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.access.requester import Requester
from gateway.application.remote_open import OpenOutcome, RemoteOpen, RemoteOpenCommand
from gateway.store.base import Role
from gateway.store.people import add_person
from gateway.store.store import Store
from tests.access.door_rig import DoorRig, door_rig
from tests.application.running_door import RunningDoor
from tests.store.conftest import T0, World


def _open(
    rig: DoorRig, requester: Requester, expires_in_s: float, door: RunningDoor
) -> OpenOutcome:
    command = RemoteOpenCommand(rig.policy, door, rig.clock.wall, rig.decisions.append)
    expires = rig.clock.wall() + timedelta(seconds=expires_in_s)
    outcome = command(RemoteOpen("cmd-1", requester, expires))
    rig.loop.run_once(0.0)
    return outcome


def _resident(store: Store, world: World, external_id: str, valid_from: datetime) -> int:
    with store.sessions.writing() as session:
        return add_person(
            session,
            external_id=external_id,
            display_name=None,
            role=Role.OWNER,
            unit_id=world.unit_id,
            valid_from=valid_from,
        ).id


def test_the_station_opens_and_the_relay_energises(store: Store, world: World) -> None:
    with door_rig(store, world.door_id) as rig:
        outcome = _open(rig, Requester.station("guard"), 30, RunningDoor(rig))
        assert outcome.opened and outcome.reason == "station_open"
        assert rig.release_count() == 1
        assert [str(e.id) for e in rig.events()] == [outcome.event_id]


def test_a_resident_not_yet_valid_is_refused_and_the_door_stays_shut(
    store: Store, world: World
) -> None:
    _resident(store, world, "R-future", T0 + timedelta(days=30))
    with door_rig(store, world.door_id) as rig:
        outcome = _open(rig, Requester.resident("R-future"), 30, RunningDoor(rig))
        assert not outcome.opened
        assert outcome.reason == "not_yet_valid"
        assert rig.release_count() == 0
        assert rig.decisions[-1].reason == "not_yet_valid"


def test_a_valid_resident_opens(store: Store, world: World) -> None:
    _resident(store, world, "R-1", T0 - timedelta(days=1))
    with door_rig(store, world.door_id) as rig:
        outcome = _open(rig, Requester.resident("R-1"), 30, RunningDoor(rig))
        assert outcome.opened
        assert rig.release_count() == 1


def test_an_unknown_resident_and_an_expired_request_open_nothing(
    store: Store, world: World
) -> None:
    with door_rig(store, world.door_id) as rig:
        unknown = _open(rig, Requester.resident("nobody"), 30, RunningDoor(rig))
        expired = _open(rig, Requester.station(), -1, RunningDoor(rig))
        assert (unknown.opened, unknown.reason) == (False, "unknown_person")
        assert (expired.opened, expired.reason) == (False, "expired")
        assert rig.release_count() == 0


def test_a_door_thread_that_is_not_running_gets_no_decision(store: Store, world: World) -> None:
    with door_rig(store, world.door_id) as rig:
        outcome = _open(rig, Requester.station(), 30, RunningDoor(rig, running=False))
        assert (outcome.opened, outcome.reason) == (False, "not_ready")
        assert rig.decisions == [] and rig.events() == []
        assert rig.release_count() == 0
