"""Telemetry snapshots over small provider callables, for the station link and for metrics.

`collect_telemetry(sources)` calls each named provider and returns a JSON-ready dict; a provider
that raises is reported under "errors" and its value is None, so one broken sensor never hides
the others. The providers below read what the gateway already has: frame counters (turned into
a rate), latency samples (turned into percentiles), the outbox depth, the CPU temperature from
/sys/class/thermal and the free disk space.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)
Number = float | int
Provider = Callable[[], Number | None]
THERMAL_ROOT = Path("/sys/class/thermal")


def collect_telemetry(
    sources: Mapping[str, Provider], now: Callable[[], datetime] | None = None
) -> dict[str, Any]:
    """`{"at": ISO time, "values": {name: number|None}, "errors": {name: message}}`."""
    values: dict[str, Number | None] = {}
    errors: dict[str, str] = {}
    for name, provider in sources.items():
        try:
            value = provider()
        except Exception as error:  # a broken sensor is reported, never fatal
            LOG.debug("telemetry provider %s failed", name, exc_info=True)
            errors[name] = f"{type(error).__name__}: {error}"
            value = None
        if isinstance(value, float):
            value = round(value, 3)
        values[name] = value
    at = (now or (lambda: datetime.now(UTC)))()
    return {"at": at.isoformat(timespec="seconds"), "values": values, "errors": errors}


class RateProvider:
    """Turns a monotonically increasing counter into a per-second rate between calls.

    The first call returns None (no interval yet); a counter that went backwards (a restart of
    its owner) restarts the measurement.
    """

    def __init__(self, counter: Callable[[], int], clock: Callable[[], float] = time.monotonic):
        self.counter = counter
        self.clock = clock
        self._last: tuple[float, int] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> float | None:
        with self._lock:
            now, count = self.clock(), self.counter()
            last, self._last = self._last, (now, count)
        if last is None or count < last[1] or now <= last[0]:
            return None
        return (count - last[1]) / (now - last[0])


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, linear interpolation) of the samples; None when empty."""
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(samples)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percentile_provider(samples: Callable[[], Iterable[float]], q: float) -> Provider:
    """A provider for the q-th percentile of the current samples (e.g. a deque of latencies)."""

    def provide() -> float | None:
        return percentile(list(samples()), q)

    return provide


def cpu_temperature_c(root: Path = THERMAL_ROOT) -> float | None:
    """The hottest thermal zone in °C (the SoC on a Pi), or None without /sys/class/thermal."""
    readings = []
    for zone in sorted(root.glob("thermal_zone*")):
        try:
            readings.append(int((zone / "temp").read_text().strip()) / 1000.0)
        except (OSError, ValueError):
            continue
    return max(readings) if readings else None


def disk_free_bytes(path: Path) -> int:
    """Free bytes for unprivileged writers on the file system holding `path` (or its parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def load_average_1m() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def standard_sources(
    *,
    frames: Callable[[], int],
    latency_ms: Callable[[], Iterable[float]],
    dropped_frames: Callable[[], int],
    outbox_depth: Callable[[], int],
    data_dir: Path,
    thermal_root: Path = THERMAL_ROOT,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Provider]:
    """The telemetry set the station link publishes, from the running service's counters."""
    return {
        "fps": RateProvider(frames, clock),
        "decision_latency_p50_ms": percentile_provider(latency_ms, 50),
        "decision_latency_p95_ms": percentile_provider(latency_ms, 95),
        "dropped_frames": dropped_frames,
        "outbox_depth": outbox_depth,
        "cpu_temperature_c": lambda: cpu_temperature_c(thermal_root),
        "disk_free_bytes": lambda: disk_free_bytes(data_dir),
        "load_1m": load_average_1m,
    }
