"""UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then random bits; sorts by time.

Within one process, ids made in the same millisecond still increase: the 12-bit rand_a field
carries a counter seeded randomly each millisecond.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = -1
_counter = 0


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """A new UUIDv7; `unix_ms` fixes the timestamp (for back-dated events and tests)."""
    global _last_ms, _counter
    with _lock:
        now = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
        if now == _last_ms and _counter < 0xFFF:
            _counter += 1
        else:
            _counter = secrets.randbits(11)  # leave room to count up within the millisecond
        _last_ms = now
        counter = _counter
    if not 0 <= now < 1 << 48:
        raise ValueError("timestamp out of the 48-bit millisecond range")
    value = (now << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | secrets.randbits(62)
    return uuid.UUID(int=value)


def uuid7_millis(value: uuid.UUID) -> int:
    """The Unix millisecond timestamp carried by a UUIDv7."""
    if value.version != 7:
        raise ValueError(f"{value} is not a version-7 UUID")
    return value.int >> 80
