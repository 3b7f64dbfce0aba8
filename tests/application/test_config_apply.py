"""Config changes through the one `apply`: a live field changes what the running door does, a
restart field is reported and left alone in the running config, a bad value changes nothing."""

from __future__ import annotations

import pytest

from firmware_bridge.backends.sim import SimDoorIO
from firmware_bridge.door import DoorController
from firmware_bridge.safety import door_session
from gateway.application.config_apply import (
    LIVE_FIELDS,
    Applied,
    ConfigChangeRefused,
    ConfigChanges,
)
from gateway.config.model import GatewayConfig
from gateway.station.commands import SETTABLE_CONFIG_KEYS
from tests.access.door_rig import FakeClock


def _released_for_ms(config: GatewayConfig) -> float:
    """Grant once on a door built over `config.door`; how long the lock stayed released, from
    the simulated relay's history (10 ms steps of a fake clock)."""
    clock = FakeClock()
    io = SimDoorIO(config.door, clock=clock)
    with door_session(io, config.door):
        controller = DoorController(io, config.door, clock=clock)
        controller.arm()
        start = clock()
        controller.grant("test", start + 10**10, "g-1")
        for _ in range(1000):
            clock.advance(0.01)
            controller.step(0.0)
    (on, energised), (off, released) = io.relay_history[-2:]  # fail-secure: energised = released
    assert (energised, released) == (True, False)
    return (off - on) / 1e6


def test_a_live_field_changes_the_running_door() -> None:
    config = GatewayConfig()
    before = _released_for_ms(config)
    applied = ConfigChanges(config).apply({"door.unlock_ms": 1000})
    assert applied.fields == {"door.unlock_ms": Applied.LIVE}
    after = _released_for_ms(config)
    assert before == pytest.approx(3000, abs=20)  # the default
    assert after == pytest.approx(1000, abs=20)


def test_a_restart_field_is_reported_saved_and_not_pushed_into_the_running_config() -> None:
    running = GatewayConfig()
    saved: list[GatewayConfig] = []
    applied = ConfigChanges(running).apply(
        {"vision.match.min_margin": 0.07, "door.held_open_s": 45.0}, save=saved.append
    )
    assert applied.fields == {
        "vision.match.min_margin": Applied.RESTART,
        "door.held_open_s": Applied.LIVE,
    }
    assert applied.needs_restart == ["vision.match.min_margin"]
    assert [c.vision.match.min_margin for c in saved] == [0.07]
    assert running.vision.match.min_margin != 0.07 and running.door.held_open_s == 45.0


def test_a_bad_value_or_key_changes_nothing_and_saves_nothing() -> None:
    running = GatewayConfig()
    before = running.model_dump()
    saved: list[GatewayConfig] = []
    changes = ConfigChanges(running)
    with pytest.raises(ConfigChangeRefused):
        changes.apply({"door.held_open_s": 45.0, "door.unlock_ms": -1}, save=saved.append)
    with pytest.raises(ConfigChangeRefused):
        changes.apply({"door.no_such_thing": 1}, save=saved.append)
    assert saved == [] and running.model_dump() == before


def test_an_applier_gets_the_new_value() -> None:
    seen: list[object] = []
    ConfigChanges(GatewayConfig(), {"logging.level": seen.append}).apply({"logging.level": "DEBUG"})
    assert seen == ["DEBUG"]


def test_every_key_the_station_may_set_is_live() -> None:
    assert SETTABLE_CONFIG_KEYS <= LIVE_FIELDS
