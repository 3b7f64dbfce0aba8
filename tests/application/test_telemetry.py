"""The telemetry query reads every provider once per snapshot; a broken one is reported by name
and the others still answer."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.application.telemetry import TelemetryQuery


def test_a_broken_provider_is_reported_and_the_rest_still_read() -> None:
    reads: list[str] = []

    def frames() -> int:
        reads.append("frames")
        return 42

    def temperature() -> float:
        raise OSError("no thermal zone")

    at = datetime(2026, 3, 1, tzinfo=UTC)
    query = TelemetryQuery({"frames": frames, "cpu_temp_c": temperature}, lambda: at)
    snapshot = query.snapshot()
    assert snapshot["values"] == {"frames": 42, "cpu_temp_c": None}
    assert "no thermal zone" in snapshot["errors"]["cpu_temp_c"]
    assert snapshot["at"].startswith("2026-03-01")
    assert query.values() == {"frames": 42, "cpu_temp_c": None}
    assert reads == ["frames", "frames"]
