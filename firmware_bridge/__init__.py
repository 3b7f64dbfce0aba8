"""Door I/O for menwei: relay and inputs, Wiegand in/out, the MCU protocol and its firmware.

Public API for the access service:

* `backends.create_door_io(DoorConfig) -> DoorIO` builds the configured backend (sim, gpiod, mcu);
* `safety.door_session(io, config)` starts it with the relay de-energised and guarantees the
  relay drops at stop, on SIGTERM and on an unhandled exception; it logs
  `lock.effective_config(config)`;
* `door.DoorController(io, config)` is the door state machine: `grant(reason, expires_at_ns)`,
  `step(timeout_s)` (reads events, applies them, runs timers), `state`, `alarms`, `counters`;
* `io` defines `DoorIO` and the event types; `wiegand` is the pure codec.
"""
