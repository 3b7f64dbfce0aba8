"""What AccessService calls to run as an appliance: one `start_ops` after start, `stop` before stop.

`start_ops` starts the watchdog pinger (when systemd asked for one), the metrics endpoint (when
enabled) and the retention job, and returns an `OpsRuntime` whose `ready()` sends READY=1 and
whose `stop()` sends STOPPING=1 and stops them. `service_liveness` builds the watchdog's liveness
from the threads' heartbeats: a thread that stopped, or that is stuck in one call, makes it False.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.config.ops import OpsConfig, WatchdogConfig
from gateway.ops.metrics import MetricsServer, start_metrics
from gateway.ops.retention import RetentionJob
from gateway.ops.sdnotify import Liveness, Notifier, WatchdogPinger, all_alive, heartbeat_fresh
from gateway.ops.telemetry import Provider
from gateway.store.store import Store

LOG = logging.getLogger(__name__)


def service_liveness(
    config: WatchdogConfig,
    *,
    threads_running: Liveness,
    vision_heartbeat_s: Callable[[], float],
    door_heartbeat_s: Callable[[], float],
    others: Sequence[Liveness] = (),
    clock: Callable[[], float] = time.monotonic,
) -> Liveness:
    """Alive = threads running, both loops came round recently, and every other check passes.

    Heartbeats are time.monotonic() seconds (DoorLoop.heartbeat_ns / 1e9 converts the door's);
    `others` is where the station link's liveness goes.
    """
    return all_alive(
        threads_running,
        heartbeat_fresh(vision_heartbeat_s, config.vision_stall_s, clock),
        heartbeat_fresh(door_heartbeat_s, config.door_stall_s, clock),
        *others,
    )


@dataclass
class OpsRuntime:
    """The running ops pieces of one service start."""

    notifier: Notifier
    pinger: WatchdogPinger | None
    metrics: MetricsServer | None
    retention: RetentionJob

    def ready(self, status: str) -> None:
        """Tell systemd the service is up (models loaded, door in its safe state)."""
        self.notifier.ready(status)

    def stop(self) -> None:
        if self.pinger is not None:
            self.pinger.stop()
        self.notifier.stopping()
        if self.metrics is not None:
            self.metrics.stop()
        self.retention.stop()


def start_ops(
    config: OpsConfig,
    *,
    store: Store,
    alive: Liveness,
    telemetry: Mapping[str, Provider],
    now: Callable[[], datetime],
    environ: Mapping[str, str] | None = None,
    metrics_port: int | None = None,
) -> OpsRuntime:
    """Start the pinger, metrics and retention; call `ready()` on the result once started."""
    notifier = Notifier(environ)
    pinger = None
    if config.watchdog.enabled:
        pinger = WatchdogPinger.from_environment(notifier, alive, environ)
    retention = RetentionJob(store, config.retention, now)
    runtime = OpsRuntime(notifier, pinger, None, retention)
    try:
        runtime.metrics = start_metrics(config.metrics, telemetry, port=metrics_port)
        retention.start()
        if pinger is not None:
            pinger.start()
            LOG.info("systemd watchdog: pinging every %.1f s while alive", pinger.interval_s)
    except BaseException:
        runtime.stop()
        raise
    return runtime
