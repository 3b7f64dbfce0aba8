"""The lifecycle drops the relay at start, stop, on exceptions and on SIGTERM."""

from __future__ import annotations

import signal

import pytest

from firmware_bridge.backends import create_door_io
from firmware_bridge.backends.sim import SimDoorIO
from firmware_bridge.clock import ManualClock
from firmware_bridge.config import DoorConfig
from firmware_bridge.lock import effective_config
from firmware_bridge.safety import door_session


def sim(lock_type: str = "fail_secure") -> tuple[SimDoorIO, DoorConfig]:
    config = DoorConfig(lock_type=lock_type)
    io = create_door_io(config, ManualClock())
    assert isinstance(io, SimDoorIO)
    return io, config


def test_relay_off_at_start_and_stop() -> None:
    io, config = sim("fail_safe")
    with door_session(io, config):
        assert io.started and io.relay_history == [(io.relay_history[0][0], False)]
        io.secure()
        assert io.relay_energised
    assert not io.relay_energised and not io.started


def test_relay_off_on_unhandled_exception() -> None:
    io, config = sim()
    with pytest.raises(RuntimeError, match="boom"), door_session(io, config):
        io.release(3000)
        assert io.relay_energised
        raise RuntimeError("boom")
    assert not io.relay_energised


def test_relay_off_on_sigterm_and_handler_restored() -> None:
    io, config = sim()
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as caught, door_session(io, config):
        io.release(3000)
        signal.raise_signal(signal.SIGTERM)
    assert caught.value.code == 143
    assert not io.relay_energised
    assert signal.getsignal(signal.SIGTERM) == before


def test_effective_config_states_polarity_power_loss_and_fire() -> None:
    strike = effective_config(DoorConfig(lock_type="fail_secure"))
    assert "relay ENERGISED = released" in strike
    assert "power loss: door LOCKED" in strike
    assert "stays LOCKED" in strike
    mag = effective_config(DoorConfig(lock_type="fail_safe", backend="mcu"))
    assert "relay ENERGISED = locked" in mag
    assert "power loss: door RELEASED" in mag
    assert "RELEASED for as long as the alarm lasts" in mag
    assert "watchdog 2000 ms" in mag


def test_config_bounds_and_cross_checks() -> None:
    with pytest.raises(ValueError, match="unlock_ms must not exceed"):
        DoorConfig(unlock_ms=20000, max_unlock_ms=10000)
    with pytest.raises(ValueError, match="twice heartbeat"):
        DoorConfig(heartbeat_ms=1000, watchdog_ms=1500)
    with pytest.raises(ValueError, match="extra"):
        DoorConfig.model_validate({"colour": "red"})
    with pytest.raises(ValueError, match="GPIO lines used twice: GPIO17"):
        DoorConfig.model_validate({"gpiod": {"tamper": {"line": "GPIO17"}}})
    with pytest.raises(ValueError, match="needs wiegand_out_d0"):
        DoorConfig.model_validate({"gpiod": {"best_effort_wiegand_out": True}})
    with pytest.raises(ValueError, match="out_interval_us"):
        DoorConfig.model_validate({"wiegand": {"out_pulse_us": 100, "out_interval_us": 100}})
