"""Door hardware configuration (the `[door]` table): backend choice, lock type and timings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DoorConfig(BaseModel):
    """Which door I/O backend drives the lock, and how the lock behaves."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    backend: Literal["sim", "gpiod", "mcu"] = Field(
        "sim", description="Door I/O backend: in-process simulation, Linux GPIO, or a serial MCU.")
    lock_type: Literal["fail_secure", "fail_safe"] = Field(
        "fail_secure", description="fail_secure: electric strike, locked without power; "
        "fail_safe: maglock, released without power.")
    unlock_ms: int = Field(3000, ge=200, le=30000,
                           description="How long a grant keeps the lock released.")
