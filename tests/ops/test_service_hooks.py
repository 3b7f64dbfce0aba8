"""start_ops end to end: READY/WATCHDOG/STOPPING on a real notify socket, metrics, retention."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.config.ops import OpsConfig, WatchdogConfig
from gateway.ops.service_hooks import service_liveness, start_ops
from gateway.store.store import Store
from tests.sqlite_store import sqlite_store_in


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with sqlite_store_in(tmp_path) as opened:
        yield opened


def test_start_ops_notifies_pings_serves_and_stops(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10.0)
    config = OpsConfig.model_validate({"metrics": {"enabled": True}})
    runtime = start_ops(
        config,
        store=store,
        alive=lambda: True,
        telemetry={"outbox_depth": lambda: 4},
        now=lambda: datetime.now(UTC),
        environ={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "100000"},
        metrics_port=0,
    )
    try:
        assert runtime.pinger is not None and runtime.pinger.interval_s == 0.05
        runtime.ready("ready: 3 residents")
        messages: list[bytes] = []
        while not {b"READY=1\nSTATUS=ready: 3 residents", b"WATCHDOG=1"} <= set(messages):
            messages.append(sock.recv(4096))  # times out (fails) after 10 s without them
        assert runtime.metrics is not None
        url = f"http://127.0.0.1:{runtime.metrics.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert "menwei_outbox_depth 4.0" in response.read().decode()
    finally:
        runtime.stop()
    assert runtime.retention.last_report is not None  # ran once at start
    assert not runtime.pinger.running
    rest = []
    sock.setblocking(False)
    try:
        while True:
            rest.append(sock.recv(4096))
    except BlockingIOError:
        pass
    sock.close()
    assert rest[-1] == b"STOPPING=1"


def test_outside_systemd_nothing_pings_and_metrics_stay_off(store: Store) -> None:
    runtime = start_ops(
        OpsConfig(),
        store=store,
        alive=lambda: True,
        telemetry={},
        now=lambda: datetime.now(UTC),
        environ={},
    )
    try:
        assert runtime.pinger is None and runtime.metrics is None
        runtime.ready("ready")  # no socket: a no-op
    finally:
        runtime.stop()


def test_service_liveness_needs_threads_and_fresh_heartbeats() -> None:
    now = [1000.0]
    state = {"running": True, "vision": 999.0, "door": 999.9, "station": True}
    alive = service_liveness(
        WatchdogConfig(vision_stall_s=30.0, door_stall_s=5.0),
        threads_running=lambda: bool(state["running"]),
        vision_heartbeat_s=lambda: float(state["vision"]),
        door_heartbeat_s=lambda: float(state["door"]),
        others=[lambda: bool(state["station"])],
        clock=lambda: now[0],
    )
    assert alive()
    now[0] = 1010.0  # door loop silent for 10.1 s: hung
    assert not alive()
    state["door"] = 1009.9
    assert alive()
    now[0] = 1031.0  # inference stuck for 32 s
    state["door"] = 1030.9
    assert not alive()
    state["vision"] = 1030.0
    assert alive()
    state["station"] = False
    assert not alive()
    state["station"] = True
    state["running"] = False
    assert not alive()
