"""Door I/O backends and the factory that builds the one named in the config."""

from __future__ import annotations

from firmware_bridge.clock import Clock, system_clock
from firmware_bridge.config import DoorConfig
from firmware_bridge.io import DoorIO


def create_door_io(config: DoorConfig, clock: Clock = system_clock) -> DoorIO:
    """The backend `config.backend` names, not yet started (use `safety.door_session`)."""
    if config.backend == "sim":
        from firmware_bridge.backends.sim import SimDoorIO

        return SimDoorIO(config, clock)
    if config.backend == "gpiod":
        from firmware_bridge.backends.gpiod_backend import GpiodDoorIO

        return GpiodDoorIO(config, clock)
    from firmware_bridge.backends.mcu import McuDoorIO

    return McuDoorIO(config, clock)
