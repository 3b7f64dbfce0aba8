"""JSON logs for the journal, telemetry providers and the Prometheus endpoint."""

from __future__ import annotations

import io
import json
import logging
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.config.model import LoggingConfig
from gateway.config.ops import MetricsConfig
from gateway.ops.logging_setup import JsonFormatter, configure_logging, syslog_priority
from gateway.ops.metrics import start_metrics
from gateway.ops.telemetry import (
    RateProvider,
    collect_telemetry,
    cpu_temperature_c,
    disk_free_bytes,
    percentile,
    standard_sources,
)


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_logs_carry_extra_fields_and_exceptions(restore_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging(LoggingConfig(level="INFO", json_format=True), stream=stream, environ={})
    log = logging.getLogger("menwei.test")
    log.debug("hidden at INFO")
    log.warning("door %s held open", "main", extra={"door": "main", "seconds": 31.5})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["msg"] == "door main held open"
    assert first["level"] == "WARNING" and first["logger"] == "menwei.test"
    assert first["door"] == "main" and first["seconds"] == 31.5
    assert datetime.fromisoformat(first["ts"]).tzinfo is not None
    assert "ValueError: boom" in second["exc"]


def test_journal_prefix_sets_priority(restore_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging(
        LoggingConfig(json_format=True), stream=stream, environ={"JOURNAL_STREAM": "8:1234"}
    )
    logging.getLogger("menwei.test").error("relay stuck")
    line = stream.getvalue().strip()
    assert line.startswith("<3>{")
    assert json.loads(line[3:])["msg"] == "relay stuck"
    assert [syslog_priority(level) for level in (50, 40, 30, 20, 10, 5)] == [2, 3, 4, 6, 7, 7]


def test_text_format_and_verbose(restore_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging(LoggingConfig(level="ERROR"), stream=stream, environ={}, verbose=True)
    logging.getLogger("menwei.test").debug("details")
    assert "DEBUG menwei.test: details" in stream.getvalue()
    assert len(logging.getLogger().handlers) == 1


def test_unserialisable_extra_is_stringified() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.path = Path("/var/lib/menwei")
    record.items = {"a": (1, Path("/b"))}
    document = json.loads(JsonFormatter().format(record))
    assert document["path"] == "/var/lib/menwei"
    assert document["items"] == {"a": [1, "/b"]}


def test_collect_telemetry_isolates_a_failing_provider() -> None:
    def broken() -> float:
        raise OSError("sensor gone")

    snapshot = collect_telemetry(
        {"a": lambda: 1.23456, "b": broken, "c": lambda: None},
        now=lambda: datetime(2026, 11, 22, tzinfo=UTC),
    )
    assert snapshot["values"] == {"a": 1.235, "b": None, "c": None}
    assert snapshot["errors"] == {"b": "OSError: sensor gone"}
    assert snapshot["at"] == "2026-11-22T00:00:00+00:00"
    json.dumps(snapshot)


def test_rate_provider_measures_between_calls() -> None:
    clock, count = [0.0], [0]
    rate = RateProvider(lambda: count[0], lambda: clock[0])
    assert rate() is None
    clock[0], count[0] = 2.0, 30
    assert rate() == 15.0
    clock[0], count[0] = 3.0, 5  # counter restarted
    assert rate() is None


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(range(101)), 95) == 95.0
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_cpu_temperature_reads_the_hottest_zone(tmp_path: Path) -> None:
    for index, milli in enumerate(["45000", "61500", "garbage"]):
        zone = tmp_path / f"thermal_zone{index}"
        zone.mkdir()
        (zone / "temp").write_text(milli + "\n")
    assert cpu_temperature_c(tmp_path) == 61.5
    assert cpu_temperature_c(tmp_path / "none") is None


def test_standard_sources_snapshot(tmp_path: Path) -> None:
    frames, clock = [0], [0.0]
    sources = standard_sources(
        frames=lambda: frames[0],
        latency_ms=lambda: [10.0, 20.0, 30.0, 40.0, 50.0],
        dropped_frames=lambda: 7,
        outbox_depth=lambda: 3,
        data_dir=tmp_path / "not-yet-created",
        thermal_root=tmp_path,
        clock=lambda: clock[0],
    )
    collect_telemetry(sources)
    frames[0], clock[0] = 50, 10.0
    values = collect_telemetry(sources)["values"]
    assert values["fps"] == 5.0
    assert values["decision_latency_p50_ms"] == 30.0
    assert values["decision_latency_p95_ms"] == 48.0
    assert values["dropped_frames"] == 7 and values["outbox_depth"] == 3
    assert values["cpu_temperature_c"] is None
    assert values["disk_free_bytes"] == disk_free_bytes(tmp_path) > 0


def test_metrics_endpoint_serves_gauges_on_loopback() -> None:
    assert start_metrics(MetricsConfig(), {"x": lambda: 1}) is None  # off by default
    server = start_metrics(
        MetricsConfig(enabled=True),
        {"outbox_depth": lambda: 12, "cpu_temperature_c": lambda: None},
        port=0,
    )
    assert server is not None
    try:
        assert server.server.server_address[0] == "127.0.0.1"
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode()
    finally:
        server.stop()
    assert "menwei_outbox_depth 12.0" in body
    assert "menwei_cpu_temperature_c" not in body
    assert "menwei_telemetry_errors 0.0" in body
