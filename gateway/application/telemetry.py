"""The telemetry query: the gateway's runtime figures (frames, latency, dropped frames, outbox
depth, disk, CPU temperature...) read from one set of providers, a broken provider reported, never
fatal. The station's `telemetry` message reads it; the metrics server keeps its own set (the fps
provider keeps state between reads)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from gateway.ops.telemetry import Number, Provider, collect_telemetry


class TelemetryQuery:
    def __init__(
        self, sources: Mapping[str, Provider], now: Callable[[], datetime] | None = None
    ) -> None:
        self._sources = dict(sources)
        self._now = now

    def snapshot(self) -> dict[str, Any]:
        """`{"at": ISO time, "values": {name: number|None}, "errors": {name: message}}`."""
        return collect_telemetry(self._sources, self._now)

    def values(self) -> dict[str, Number | None]:
        values: dict[str, Number | None] = self.snapshot()["values"]
        return values
