"""The Prometheus endpoint: telemetry providers exposed as gauges, read at scrape time.

Nothing is pushed or cached: each scrape calls the providers (the same ones the station's
telemetry uses), so the endpoint costs nothing when nobody scrapes it. It listens on loopback by
default and is off unless `[ops.metrics] enabled = true`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.config.ops import MetricsConfig
from gateway.ops.telemetry import Provider, collect_telemetry

METRIC_PREFIX = "menwei_"


class TelemetryCollector(Collector):
    """Exposes each provider as gauge `menwei_<name>`; providers that fail or return None are
    left out of that scrape and counted in `menwei_telemetry_errors`."""

    def __init__(self, sources: Mapping[str, Provider]) -> None:
        self.sources = dict(sources)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = collect_telemetry(self.sources)
        for name, value in snapshot["values"].items():
            if value is None:
                continue
            gauge = GaugeMetricFamily(METRIC_PREFIX + name, f"menwei telemetry: {name}")
            gauge.add_metric([], float(value))
            yield gauge
        errors = GaugeMetricFamily(
            METRIC_PREFIX + "telemetry_errors", "telemetry providers that failed in this scrape"
        )
        errors.add_metric([], float(len(snapshot["errors"])))
        yield errors


@dataclass
class MetricsServer:
    """A running endpoint; `stop()` shuts it down."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5.0)


def start_metrics(
    config: MetricsConfig,
    sources: Mapping[str, Provider],
    *,
    extra_collectors: tuple[Collector, ...] = (),
    port: int | None = None,
) -> MetricsServer | None:
    """Start the endpoint when enabled (None otherwise); `port` overrides the config (tests: 0)."""
    if not config.enabled:
        return None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TelemetryCollector(sources))
    for collector in extra_collectors:
        registry.register(collector)
    server, thread = start_http_server(
        config.port if port is None else port, addr=config.address, registry=registry
    )
    return MetricsServer(server, thread)
