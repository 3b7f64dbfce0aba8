"""The wiring the lead adds to AccessService, exercised on a real running service (real models,
sim door, folder camera): READY after start, watchdog pings while the loops are alive, none
once a loop stops or stalls, retention and telemetry over the live store and loops."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from gateway.config.ops import OpsConfig
from gateway.ops.service_hooks import start_ops
from gateway.ops.telemetry import collect_telemetry
from tests.runtime.conftest import Running, make_config


@pytest.fixture
def running(tmp_path: Path, models_mirror: Path) -> Iterator[Running]:
    import cv2

    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(3):
        cv2.imwrite(str(frames / f"{index}.jpg"), np.full((240, 320, 3), 60 + index, np.uint8))
    started = Running(make_config(tmp_path, models_mirror, frames))
    started.service.start()
    try:
        yield started
    finally:
        started.service.stop()
        assert not started.io.relay_energised


@pytest.mark.shared
def test_ready_pings_and_a_stopped_loop_withholds_them(running: Running, tmp_path: Path) -> None:
    service = running.service
    assert service.store is not None and service.vision_loop and service.door_loop
    vision, store = service.vision_loop, service.store
    clock_offset = [0.0]
    alive = service.liveness(clock=lambda: time.monotonic() + clock_offset[0])
    assert alive()
    clock_offset[0] = 31.0  # as if both loops had not come round for 31 s
    assert not alive()
    clock_offset[0] = 0.0

    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10.0)
    telemetry = service.telemetry_sources()
    ops = start_ops(
        OpsConfig(),
        store=store,
        alive=alive,
        telemetry=telemetry,
        now=lambda: datetime.now(UTC),
        environ={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "200000"},
    )
    try:
        ops.ready("ready")
        seen: set[bytes] = set()
        while not {b"READY=1\nSTATUS=ready", b"WATCHDOG=1"} <= seen:
            seen.add(sock.recv(4096))
        snapshot = collect_telemetry(telemetry)
        assert snapshot["errors"] == {}
        assert snapshot["values"]["outbox_depth"] == 0
        vision.stop()  # the vision thread is gone: the pings must stop
        assert ops.pinger is not None
        deadline = time.monotonic() + 10
        while ops.pinger.missed < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ops.pinger.missed >= 2
    finally:
        ops.stop()
        sock.close()
    assert ops.retention.last_report is not None
