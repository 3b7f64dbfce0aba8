"""The assembled Camera: config in, frames and health out, with the watchdog catching silence."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from gateway.camera.capture import CaptureState
from gateway.camera.errors import SourceOpenError, SourceReadError
from gateway.camera.health import HealthEvent
from gateway.camera.runtime import Camera
from gateway.camera.simulated import SimulatedSource
from gateway.config.camera import CameraConfig
from tests.camera.conftest import grey_frame, write_images

WAIT_S = 20.0


def test_an_image_folder_plays_through_the_camera(tmp_path: Path) -> None:
    levels = [10, 40, 70, 100, 130]
    write_images(tmp_path, [grey_frame(v) for v in levels], [f"f{i}.png" for i in range(5)])
    camera = Camera(CameraConfig(source=str(tmp_path), paced=True, folder_fps=50.0))
    camera.start()
    try:
        seen: list[int] = []
        last = 0
        while (frame := camera.latest(after_seq=last, timeout=WAIT_S)) is not None:
            seen.append(round(float(frame.image.mean())))
            last = frame.seq
        status = camera.status()
    finally:
        assert camera.stop()
    assert status.capture.state is CaptureState.ENDED
    assert seen == sorted(seen) and seen[-1] == 130  # in order; a slow reader may skip
    assert len(seen) + status.capture.frames_dropped == 5
    assert status.health.frames_seen == 5


def test_a_non_video_file_fails_cleanly_through_the_camera(tmp_path: Path) -> None:
    bogus = tmp_path / "door.mp4"
    bogus.write_bytes(b"\x00" * 1000)
    camera = Camera(CameraConfig(source=str(bogus)))
    camera.start()
    try:
        assert camera.latest(timeout=WAIT_S) is None
        status = camera.status().capture
    finally:
        assert camera.stop()
    assert status.state is CaptureState.FAILED and status.open_failures == 1
    assert status.last_error is not None and "not a readable video" in status.last_error


def test_watchdog_raises_disconnected_while_the_source_is_down_and_clears_after() -> None:
    events: queue.Queue[HealthEvent] = queue.Queue()
    config = CameraConfig.model_validate(
        {
            "source": "rtsp://sim/door",
            "reconnect_min_s": 0.05,
            "reconnect_max_s": 0.05,
            "health": {"tamper_after_s": 0.5, "clear_after_s": 0.2, "check_interval_s": 0.05},
        }
    )
    recovered = threading.Event()

    def opens() -> Iterator[SourceOpenError | None]:
        yield None  # connects, delivers 20 frames, then the stream drops
        while not recovered.is_set():  # refused until the test has seen the alert
            yield SourceOpenError("sim: refused")

    rng = np.random.default_rng(5)
    source = SimulatedSource(
        lambda i: rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
        open_errors=opens(),
        read_errors={20: SourceReadError("sim: stream dropped")},
        interval_s=0.01,
        sleep=time.sleep,
    )
    camera = Camera(config, source=source, on_health_event=events.put)
    camera.start()
    try:
        raised = events.get(timeout=WAIT_S)
        assert (raised.kind, raised.active) == ("disconnected", True)
        assert "capture reconnecting" in raised.detail and "refused" in raised.detail
        recovered.set()
        cleared = events.get(timeout=WAIT_S)
        assert (cleared.kind, cleared.active) == ("disconnected", False)
        assert cleared.since > raised.since
        status = camera.status()
        assert status.capture.state is CaptureState.CONNECTED
        assert status.capture.open_failures >= 1 and status.capture.reconnects == 1
        assert status.health.healthy
    finally:
        assert camera.stop()
    assert camera.watchdog.checks > 0
