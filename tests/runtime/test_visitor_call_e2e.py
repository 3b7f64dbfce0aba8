"""Visitor calls end to end: keypad call key -> events/visitor_call on a real mosquitto -> a signed
answer_call -> the policy, the store and the sim door. One broker and one running service are
shared by the module (each case calls its own unit, so the per-unit limits do not interfere);
the flood case runs last and asserts the per-door limit over every call the module placed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_bridge.wiegand import encode_key
from gateway.config import GatewayConfig
from gateway.runtime.bootstrap import ensure_door
from gateway.station.keys import save_private_key
from gateway.station.station_client import Received, StationClient
from gateway.store.base import Role
from gateway.store.people import add_person
from gateway.store.places import add_unit
from gateway.store.schema_people import Door
from gateway.store.store import open_store
from tests.runtime.conftest import Running, empty_camera, make_config
from tests.station.broker import GATEWAY, PREFIX, SITE, MosquittoBroker
from tests.station.conftest import gateway_config, station_access, validate_received

DOOR = "main"
RING_S = 5.0
DOOR_MAX_CALLS = 10


class CallRig:
    """The running gateway, the station client and what the station has received so far."""

    def __init__(
        self,
        running: Running,
        station: StationClient,
        key: Ed25519PrivateKey,
        broker: MosquittoBroker,
    ) -> None:
        self.running = running
        self.station = station
        self.key = key
        self.broker = broker
        self.messages: list[Received] = []

    def pump(self, until: Callable[[], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while not until() and time.monotonic() < deadline:
            try:
                self.messages.append(self.station.received.get(timeout=0.1))
            except Exception:  # queue.Empty
                continue
        return until()

    def call_events(self) -> list[dict[str, Any]]:
        return [
            validate_received(m)["body"]
            for m in self.messages
            if m.topic.endswith("/events/visitor_call")
        ]

    def placements(self) -> list[dict[str, Any]]:
        """What the call key caused (placed, or refused before ringing): not answers, not ends."""
        return [
            e
            for e in self.call_events()
            if e["outcome"] in ("placed", "refused") and e["answered_by"] is None
        ]

    def call(self, unit: str) -> dict[str, Any]:
        """Key `# # unit #` at the door; the visitor_call message the station received for it."""
        seen = len(self.placements())
        for key in f"##{unit}#":
            self.running.io.present_wiegand(encode_key(key))
            time.sleep(0.04)  # one Wiegand frame each (25 ms frame gap)
        assert self.pump(lambda: len(self.placements()) > seen), f"no call event for {unit}"
        return self.placements()[seen]

    def answer(
        self,
        call_id: str,
        answer: str,
        by: str,
        *,
        door: str = DOOR,
        key: Ed25519PrivateKey | None = None,
    ) -> dict[str, Any]:
        return self.station.send_command(
            key or self.key,
            site=SITE,
            gateway=GATEWAY,
            name="answer_call",
            args={"call_id": call_id, "door": door, "answer": answer},
            issued_by=by,
        )

    def result(self, envelope: dict[str, Any]) -> dict[str, Any]:
        def body() -> dict[str, Any] | None:
            for message in self.messages:
                if message.topic.endswith("/cmd_result/answer_call"):
                    found = validate_received(message)["body"]
                    if found["command_id"] == envelope["command"]["id"]:
                        return dict(found)
            return None

        assert self.pump(lambda: body() is not None), "no result for the answer"
        found = body()
        assert found is not None
        return found

    def releases(self) -> int:
        return sum(1 for _, energised in self.running.io.relay_history if energised)


def _residents(config: GatewayConfig) -> None:
    store = open_store(config.store)
    try:
        with store.sessions.writing() as session:
            door = session.get(Door, ensure_door(session, config.site))
            assert door is not None
            since = datetime.now(UTC) - timedelta(days=1)
            for room, people in {
                "1201": [("R-1201", True), ("R-OLD", False)],
                "1202": [("R-1202", True)],
                "1203": [("R-1203", True)],
                "1204": [("R-1204", True)],
                "1205": [("R-1205", True)],
                "1206": [("R-1206", True)],
                "1999": [("R-GONE", False)],  # no active resident: not callable
            }.items():
                unit = add_unit(session, door.building_id, "1", room)
                for external_id, active in people:
                    add_person(
                        session,
                        external_id=external_id,
                        display_name=external_id,
                        role=Role.OWNER,
                        unit_id=unit.id,
                        valid_from=since,
                        active=active,
                    )
    finally:
        store.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, models_mirror: Path) -> Iterator[CallRig]:
    tmp = tmp_path_factory.mktemp("visitor-call")
    broker = MosquittoBroker(tmp / "broker")
    broker.start()
    key = Ed25519PrivateKey.generate()
    link = gateway_config(broker, tmp / "link", key, home_assistant_discovery=True)
    link_settings = link.model_dump(mode="json")
    config = make_config(
        tmp,
        models_mirror,
        empty_camera(tmp / "cam"),
        station=link_settings,
        site={"id": SITE, "gateway_id": GATEWAY, "door_code": DOOR},
        access={
            "visitor_call": {
                "ring_s": RING_S,
                "door_max_calls": DOOR_MAX_CALLS,
                "door_window_s": 600.0,
                "unit_max_calls": 3,
            },
            "keypad": {"max_keys_per_second": 100.0},
        },
    )
    _residents(config)
    station = StationClient(
        station_access(broker), "station-calls", PREFIX, extra_filters=("homeassistant/#",)
    )
    station.start()
    running = Running(config)
    running.service.start()
    try:
        assert running.service.station is not None
        assert running.service.station.wait_connected(30)
        yield CallRig(running, station, key, broker)
    finally:
        running.service.stop()
        station.stop()
        broker.stop()
    assert not running.io.relay_energised, "relay left energised after stop"


def test_accept_opens_once_and_nothing_else_opens(rig: CallRig) -> None:
    placed = rig.call("1201")
    assert placed["outcome"] == "placed" and placed["reason"] == "call_placed"
    assert placed["unit"] == {"building": "1", "unit_number": "1", "room_number": "1201"}
    assert placed["snapshot"] is not None and placed["snapshot"]["data"]  # the caller's JPEG
    call_id = placed["call_id"]
    desk = rig.running.service.call_desk
    assert desk is not None and call_id in desk.snapshots.held()
    before = rig.releases()

    # none of these may open: an inactive resident, a forged key, another door, another call
    inactive = rig.result(rig.answer(call_id, "accept", "resident:R-OLD"))
    assert not inactive["ok"] and inactive["message"] == "answer_person_inactive"
    neighbour = rig.result(rig.answer(call_id, "accept", "resident:R-1202"))
    assert not neighbour["ok"] and neighbour["message"] == "answer_not_of_called_unit"
    forged = rig.result(rig.answer(call_id, "accept", "resident:R-1201", key=_other_key()))
    assert not forged["ok"] and forged["error"] == "bad_signature"
    other_door = rig.result(rig.answer(call_id, "accept", "resident:R-1201", door="side"))
    assert not other_door["ok"] and other_door["message"] == "wrong_door"
    unknown = rig.result(rig.answer("0" * 32, "accept", "resident:R-1201"))
    assert not unknown["ok"] and unknown["message"] == "unknown_call"
    assert rig.releases() == before and call_id in desk.snapshots.held()  # still ringing

    envelope = rig.answer(call_id, "accept", "resident:R-1201")
    accepted = rig.result(envelope)
    assert accepted["ok"] and accepted["data"]["opened"] is True
    assert rig.running.wait_for(lambda: rig.releases() == before + 1, timeout=10)
    assert call_id not in desk.snapshots.held()  # the snapshot went with the call

    # a second accept and a replay of the first one do not open again
    second = rig.result(rig.answer(call_id, "accept", "resident:R-1201"))
    assert not second["ok"] and second["message"] == "call_ended"
    rig.station.publish_raw(
        f"{PREFIX}/{SITE}/{GATEWAY}/cmd/answer_call", json.dumps(envelope).encode()
    )
    assert rig.pump(
        lambda: any(
            m.topic.endswith("/cmd_result/answer_call")
            and validate_received(m)["body"]["error"] == "replayed"
            for m in rig.messages
        )
    )
    outcomes = [e["outcome"] for e in rig.call_events() if e["call_id"] == call_id]
    assert outcomes == ["placed", "refused", "refused", "refused", "accepted", "refused"]
    assert [e["verdict"] for e in rig.call_events() if e["outcome"] == "accepted"] == ["grant"]
    assert rig.releases() == before + 1


def test_decline_and_missed_are_logged_and_a_late_accept_does_not_open(rig: CallRig) -> None:
    desk = rig.running.service.call_desk
    assert desk is not None
    declined_call = rig.call("1202")["call_id"]
    missed_call = rig.call("1203")["call_id"]
    late_call = rig.call("1204")["call_id"]
    before = rig.releases()
    declined = rig.result(rig.answer(declined_call, "decline", "resident:R-1202"))
    assert declined["ok"] and declined["message"] == "call_declined"
    assert declined_call not in desk.snapshots.held()
    ended = {missed_call, late_call}
    assert rig.pump(
        lambda: ended <= {e["call_id"] for e in rig.call_events() if e["outcome"] == "missed"},
        timeout=RING_S + 10,
    )
    late = rig.result(rig.answer(late_call, "accept", "station:operator"))
    assert not late["ok"] and late["message"] == "call_ended"
    assert rig.releases() == before
    assert desk.snapshots.held() == []  # every call ended: no snapshot is left
    reasons = {(e["call_id"], e["reason"]) for e in rig.call_events()}
    assert (declined_call, "call_declined") in reasons
    assert (missed_call, "call_missed") in reasons and (late_call, "call_missed") in reasons


def test_home_assistant_discovers_the_doorbell(rig: CallRig) -> None:
    def doorbell() -> dict[str, Any] | None:
        for message in rig.messages:
            if message.topic.startswith("homeassistant/event/") and "/doorbell/" in message.topic:
                return dict(message.json())
        return None

    assert rig.pump(lambda: doorbell() is not None)
    config = doorbell()
    assert config is not None and config["device_class"] == "doorbell"
    assert config["state_topic"] == f"{PREFIX}/{SITE}/{GATEWAY}/events/visitor_call"
    assert "placed" in config["event_types"] and "snapshot" not in config["value_template"]


def test_malformed_answers_are_refused_and_open_nothing(rig: CallRig) -> None:
    before = rig.releases()
    for args in (
        {"call_id": "not-a-call", "answer": "accept"},
        {"call_id": "a" * 32, "answer": "maybe"},
        {"call_id": "a" * 32, "answer": "accept", "door": "main door"},
        {"answer": "accept"},
    ):
        envelope = rig.station.send_command(
            rig.key,
            site=SITE,
            gateway=GATEWAY,
            name="answer_call",
            args=args,
            issued_by="station:operator",
        )
        result = rig.result(envelope)
        assert not result["ok"] and result["error"] == "malformed", args
    assert rig.releases() == before


def test_units_nobody_can_answer_are_not_called(rig: CallRig) -> None:
    for unit in ("1999", "7777"):
        refused = rig.call(unit)
        assert refused["outcome"] == "refused" and refused["reason"] == "call_unknown_unit"
        assert refused["call_id"] is None and refused["snapshot"] is None


def test_station_tools_show_calls_with_snapshots_and_answer_them(
    rig: CallRig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.station.test_cli import connection, run

    key_file = tmp_path / "station.key"
    save_private_key(rig.key, key_file)
    target = [*connection(rig.broker, tmp_path), "--site", SITE, "--gateway", GATEWAY]
    snapshots = tmp_path / "snapshots"
    calls = [*connection(rig.broker, tmp_path), "--client-id", "calls-tool"]
    calls = ["station", "calls", *calls, "--snapshots", str(snapshots)]
    # a first run opens the tool's persistent session (subscribed, QoS 1): the broker keeps the
    # call for the second run, so no timing decides whether the tool sees it
    assert run([*calls, "--seconds", "0.1"]) == 0
    call_id = rig.call("1202")["call_id"]
    assert run([*calls, "--seconds", "30", "--max-events", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"call={call_id} placed (call_placed)" in printed and "unit=1/1/1202" in printed
    assert (snapshots / f"{call_id}.jpg").read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    before = rig.releases()
    answer = ["station", "answer", call_id, "--decline", *target, "--key", str(key_file)]
    assert run([*answer, "--by", "resident:R-1202"]) == 0
    assert '"call_declined"' in capsys.readouterr().out
    assert run([*answer[:3], "--accept", *answer[4:], "--by", "resident:R-1202"]) == 1
    assert '"call_ended"' in capsys.readouterr().out
    assert rig.releases() == before


def test_the_door_rate_limit_holds_under_a_flood_of_calls(rig: CallRig) -> None:
    placed_before = sum(1 for e in rig.call_events() if e["outcome"] == "placed")
    for n in range(12):
        rig.call(("1205", "1206")[n % 2])
    placed = [e for e in rig.call_events() if e["outcome"] == "placed"]
    reasons = [e["reason"] for e in rig.call_events() if e["outcome"] == "refused"]
    assert len(placed) == DOOR_MAX_CALLS  # the whole module placed no more than the budget
    assert reasons.count("call_door_rate_limited") == 12 - (DOOR_MAX_CALLS - placed_before)
    assert rig.releases() == 1  # only the one accepted call ever opened the door
    alerts = [m for m in rig.messages if m.topic.endswith("/events/alert")]
    assert any(validate_received(m)["body"]["kind"] == "call_unit_scan" for m in alerts)


def _other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()
