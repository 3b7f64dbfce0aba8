"""Door hardware configuration (the `[door]` table): backend choice, lock type and timings.

Everything here is pure validation: no device is opened. Sub-tables hold what only one backend
needs (`[door.gpiod]`, `[door.mcu]`) and the Wiegand settings shared by all (`[door.wiegand]`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LockType = Literal["fail_secure", "fail_safe"]
BackendName = Literal["sim", "gpiod", "mcu"]
Bias = Literal["as_is", "disabled", "pull_up", "pull_down"]

LINE_NAME_PATTERN = r"^[A-Za-z0-9_.:-]+$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class InputLineConfig(_Section):
    """One GPIO input: its line name (or offset) on the chip and how it is wired."""

    line: str = Field(
        default=...,
        min_length=1,
        max_length=64,
        pattern=LINE_NAME_PATTERN,
        description="Line name from the device tree, or its offset as digits.",
    )
    inverted: bool = Field(
        default=True,
        description="True when the input reads low while active "
        "(contact to ground with a pull-up); handled once, by the kernel.",
    )
    bias: Bias = Field(
        default="pull_up", description="Internal bias the kernel applies to the line."
    )


class GpiodConfig(_Section):
    """Linux GPIO wiring for the `gpiod` backend (libgpiod v2 character device)."""

    chip: str = Field(
        default="/dev/gpiochip0",
        min_length=1,
        max_length=128,
        description="GPIO chip device path, e.g. /dev/gpiochip0.",
    )
    relay_line: str = Field(
        default="GPIO17",
        min_length=1,
        max_length=64,
        pattern=LINE_NAME_PATTERN,
        description="Output line driving the lock relay coil.",
    )
    relay_active_low: bool = Field(
        default=False,
        description="True when the relay board energises "
        "its coil on a low output (common opto-isolated boards).",
    )
    door_contact: InputLineConfig = Field(
        default_factory=lambda: InputLineConfig(line="GPIO27"),
        description="Door position switch: active while the door is open.",
    )
    exit_button: InputLineConfig = Field(
        default_factory=lambda: InputLineConfig(line="GPIO22"),
        description="Request-to-exit button inside.",
    )
    tamper: InputLineConfig = Field(
        default_factory=lambda: InputLineConfig(line="GPIO23"),
        description="Reader or enclosure tamper switch: active while tampered.",
    )
    fire_alarm: InputLineConfig = Field(
        default_factory=lambda: InputLineConfig(line="GPIO24"),
        description="Fire panel contact: active while the alarm is raised.",
    )
    wiegand_d0: InputLineConfig = Field(
        default_factory=lambda: InputLineConfig(line="GPIO5", bias="as_is"),
        description="Wiegand DATA0 from the reader (active low, external 5V->3V3 level shift).",
    )
    wiegand_d1: InputLineConfig = Field(
        default_factory=lambda: InputLineConfig(line="GPIO6", bias="as_is"),
        description="Wiegand DATA1 from the reader.",
    )
    best_effort_wiegand_out: bool = Field(
        default=False,
        description="Allow Wiegand output from userspace. Timing is NOT guaranteed on "
        "Linux (scheduling jitter can break SIA pulse/interval limits); use the MCU backend.",
    )
    wiegand_out_d0: str | None = Field(
        default=None,
        max_length=64,
        pattern=LINE_NAME_PATTERN,
        description="Output line for Wiegand DATA0 (best effort).",
    )
    wiegand_out_d1: str | None = Field(
        default=None,
        max_length=64,
        pattern=LINE_NAME_PATTERN,
        description="Output line for Wiegand DATA1 (best effort).",
    )

    @model_validator(mode="after")
    def _lines_distinct(self) -> GpiodConfig:
        names = [
            self.relay_line,
            self.door_contact.line,
            self.exit_button.line,
            self.tamper.line,
            self.fire_alarm.line,
            self.wiegand_d0.line,
            self.wiegand_d1.line,
            self.wiegand_out_d0,
            self.wiegand_out_d1,
        ]
        used = [name for name in names if name is not None]
        duplicates = sorted({name for name in used if used.count(name) > 1})
        if duplicates:
            raise ValueError(f"GPIO lines used twice: {', '.join(duplicates)}")
        return self

    @model_validator(mode="after")
    def _wiegand_out_lines(self) -> GpiodConfig:
        if self.best_effort_wiegand_out and not (self.wiegand_out_d0 and self.wiegand_out_d1):
            raise ValueError("best_effort_wiegand_out needs wiegand_out_d0 and wiegand_out_d1")
        return self


class McuConfig(_Section):
    """Serial link to the RP2040 running firmware_bridge/firmware (the `mcu` backend)."""

    port: str = Field(
        default="/dev/serial0",
        min_length=1,
        max_length=256,
        description="Serial device wired to the Pico's UART0 (GP0/GP1), e.g. /dev/serial0 on "
        "a Raspberry Pi or /dev/ttyUSB0 through a 3.3 V USB-serial adapter.",
    )
    baudrate: int = Field(
        default=115200, ge=9600, le=1_000_000, description="Serial speed in baud."
    )
    ack_timeout_ms: int = Field(
        default=150, ge=10, le=5000, description="Wait for an ACK before retransmitting a frame."
    )
    max_retries: int = Field(
        default=3, ge=0, le=10, description="Retransmissions before a command is reported failed."
    )
    command_ttl_ms: int = Field(
        default=500,
        ge=50,
        le=2000,
        description="Expiry of door-opening "
        "commands: a frame delivered later than this never opens.",
    )
    reconnect_s: float = Field(
        default=1.0, ge=0.1, le=60.0, description="Pause between attempts to reopen a lost port."
    )


class WiegandConfig(_Section):
    """Wiegand reader input and controller output settings (SIA/HID timing)."""

    frame_gap_ms: float = Field(
        default=25.0,
        ge=2.0,
        le=200.0,
        description="Silence on both data lines after which a frame is complete.",
    )
    min_pulse_us: int = Field(
        default=5, ge=1, le=100, description="Shorter input pulses are noise and spoil the frame."
    )
    out_pulse_us: int = Field(
        default=100, ge=20, le=100, description="Output pulse width (SIA: 20-100)."
    )
    out_interval_us: int = Field(
        default=1000,
        ge=200,
        le=20000,
        description="Output bit interval, start to start (200-20000).",
    )
    out_format: Literal[26, 34, 37] = Field(
        default=26, description="Format used when re-emitting cards."
    )


class DoorConfig(_Section):
    """Which door I/O backend drives the lock, and how the lock behaves."""

    backend: BackendName = Field(
        default="sim",
        description="Door I/O backend: in-process simulation, Linux GPIO, or a serial MCU.",
    )
    lock_type: LockType = Field(
        default="fail_secure",
        description="fail_secure: electric strike, locked without power; "
        "fail_safe: maglock, released without power.",
    )
    unlock_ms: int = Field(
        default=3000, ge=200, le=30000, description="How long a grant keeps the lock released."
    )
    max_unlock_ms: int = Field(
        default=10000,
        ge=500,
        le=60000,
        description="Hard maximum a release can "
        "last, enforced by the backend (and the MCU) whatever is asked.",
    )
    debounce_ms: int = Field(
        default=20,
        ge=0,
        le=500,
        description="Debounce for contacts and buttons (kernel on gpiod, firmware on the MCU); "
        "never applied to Wiegand data lines.",
    )
    held_open_s: float = Field(
        default=30.0,
        ge=2.0,
        le=3600.0,
        description="Door open longer than this raises 'held open'.",
    )
    heartbeat_ms: int = Field(
        default=250, ge=50, le=5000, description="Heartbeat period both ways."
    )
    watchdog_ms: int = Field(
        default=2000,
        ge=200,
        le=60000,
        description="Host silence after which the "
        "MCU drops the relay to the lock's unpowered state.",
    )
    gpiod: GpiodConfig = Field(default_factory=GpiodConfig, description="Linux GPIO wiring.")
    mcu: McuConfig = Field(default_factory=McuConfig, description="Serial MCU link.")
    wiegand: WiegandConfig = Field(default_factory=WiegandConfig, description="Wiegand settings.")

    @model_validator(mode="after")
    def _timings_consistent(self) -> DoorConfig:
        if self.unlock_ms > self.max_unlock_ms:
            raise ValueError("unlock_ms must not exceed max_unlock_ms")
        if self.watchdog_ms < 2 * self.heartbeat_ms:
            raise ValueError("watchdog_ms must be at least twice heartbeat_ms")
        return self
