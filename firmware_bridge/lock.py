"""Lock-type policy: relay polarity, power-loss and fire behaviour, and the effective config text.

This is the one place that knows what an energised relay means. The relay switches lock power:
a fail-secure strike is released while powered, a fail-safe maglock holds while powered. So the
de-energised relay (start, stop, crash, watchdog) is always the lock's unpowered state.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.config import DoorConfig, LockType


@dataclass(frozen=True)
class LockPolicy:
    """What the relay level means for one lock type."""

    lock_type: LockType

    @property
    def energised_when_released(self) -> bool:
        """True for a strike (power to open), False for a maglock (cut power to open)."""
        return self.lock_type == "fail_secure"

    def relay_level(self, released: bool) -> bool:
        """Relay coil level (True = energised) that puts the lock in the requested state."""
        return released == self.energised_when_released

    @property
    def unpowered_is_released(self) -> bool:
        """Door state when the relay drops (power loss, crash, host watchdog)."""
        return self.lock_type == "fail_safe"

    @property
    def fire_alarm_releases(self) -> bool:
        """A fire alarm drops the relay; only a maglock opens from that (a strike has free
        mechanical egress and stays locked from outside)."""
        return self.lock_type == "fail_safe"


def effective_config(config: DoorConfig) -> str:
    """Human-readable statement of how this door will behave; logged once at start."""
    policy = LockPolicy(config.lock_type)
    if policy.energised_when_released:
        lock = "fail-secure strike: relay ENERGISED = released, wire the strike on the NO contact"
    else:
        lock = "fail-safe maglock: relay ENERGISED = locked, wire the maglock on the NO contact"
    lines = [
        f"door backend={config.backend} lock={config.lock_type}",
        f"  {lock}",
        "  at start, stop, crash and host loss the relay is DE-ENERGISED: door "
        + ("RELEASED (maglock unpowered)" if policy.unpowered_is_released else "LOCKED"),
        "  power loss: door "
        + (
            "RELEASED"
            if policy.unpowered_is_released
            else "LOCKED, mechanical free egress from inside"
        ),
        "  fire alarm: relay de-energised, door "
        + (
            "RELEASED for as long as the alarm lasts"
            if policy.fire_alarm_releases
            else "stays LOCKED from outside (strike; mechanical free egress inside)"
        ),
        f"  grant releases for {config.unlock_ms} ms, hard maximum {config.max_unlock_ms} ms",
        f"  held-open alarm after {config.held_open_s:g} s",
    ]
    if config.backend == "mcu":
        lines.append(
            f"  MCU {config.mcu.port}@{config.mcu.baudrate}: heartbeat "
            f"{config.heartbeat_ms} ms, watchdog {config.watchdog_ms} ms, opening "
            f"commands expire after {config.mcu.command_ttl_ms} ms"
        )
    if config.backend == "gpiod":
        g = config.gpiod
        lines.append(
            f"  GPIO {g.chip}: relay {g.relay_line} "
            f"(active {'low' if g.relay_active_low else 'high'}), debounce "
            f"{config.debounce_ms} ms, Wiegand in {g.wiegand_d0.line}/{g.wiegand_d1.line}"
        )
        lines.append(
            "  exit button and fire input are handled by this host process: no local "
            "fallback if it stops (the mcu backend has one)"
        )
        if g.best_effort_wiegand_out:
            lines.append("  Wiegand OUT from userspace is BEST EFFORT: SIA timing not guaranteed")
    return "\n".join(lines)


class TimedRelease:
    """Host-side release timer for backends without an MCU: caps every release at the maximum.

    The owner calls `due(now_ns)` regularly; it returns True once when the release has ended.
    """

    def __init__(self, max_ms: int) -> None:
        self._max_ns = max_ms * 1_000_000
        self._until_ns: int | None = None

    def start(self, duration_ms: int, now_ns: int) -> None:
        if duration_ms <= 0:
            raise ValueError(f"release duration must be positive, got {duration_ms} ms")
        self._until_ns = now_ns + min(duration_ms * 1_000_000, self._max_ns)

    def cancel(self) -> None:
        self._until_ns = None

    @property
    def active(self) -> bool:
        return self._until_ns is not None

    def due(self, now_ns: int) -> bool:
        if self._until_ns is not None and now_ns >= self._until_ns:
            self._until_ns = None
            return True
        return False
