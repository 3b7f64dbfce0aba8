"""Small helpers for the benchmark: latency percentiles and this process's memory use."""

from __future__ import annotations

import resource
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean in milliseconds and the sample count."""
    if not samples_ms:
        raise ValueError("no samples")
    values = np.asarray(samples_ms, np.float64)
    return {
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "mean": float(values.mean()),
        "n": int(values.size),
    }


def _status_kib(field: str) -> int | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def rss_mib() -> float:
    """Current resident set size of this process (MiB)."""
    kib = _status_kib("VmRSS")
    if kib is None:  # not Linux: fall back to the peak
        return peak_rss_mib()
    return kib / 1024.0


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (MiB; ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
