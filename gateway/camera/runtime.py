"""One door camera assembled from its config: source, capture thread, health monitor, watchdog.

This is the object the access service holds:

    camera = Camera(config.camera, on_health_event=alerts.put)
    camera.start()
    frame = camera.latest(after_seq=last_seq, timeout=1.0)   # CapturedFrame or None
    status = camera.status()                                  # capture state + health snapshot
    camera.stop()
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from gateway.camera.backoff import ExponentialBackoff
from gateway.camera.capture import CameraCapture, CapturedFrame, CaptureStatus, StatusListener
from gateway.camera.factory import build_source
from gateway.camera.health import CameraHealthMonitor, EventSink, HealthSnapshot
from gateway.camera.source import Clock, FrameSource, Sleeper
from gateway.camera.watchdog import HealthWatchdog
from gateway.config.camera import CameraConfig


@dataclass(frozen=True)
class CameraStatus:
    """What the status page shows for the camera."""

    capture: CaptureStatus
    health: HealthSnapshot


class Camera:
    """Wires a source, a `CameraCapture`, a `CameraHealthMonitor` and a `HealthWatchdog`."""

    def __init__(
        self,
        config: CameraConfig,
        *,
        on_health_event: EventSink | None = None,
        on_status: StatusListener | None = None,
        source: FrameSource | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleeper | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.source = source or build_source(config, clock=clock, sleep=sleep or time.sleep)
        self.health = CameraHealthMonitor(
            config.health, on_event=on_health_event, clock=clock, context=self._capture_context
        )
        backoff = ExponentialBackoff(
            config.reconnect_min_s,
            config.reconnect_max_s,
            jitter=config.reconnect_jitter,
            rng=rng,
        )
        self.capture = CameraCapture(
            self.source,
            backoff=backoff,
            fps_limit=config.fps_limit,
            max_attempts=config.max_reconnect_attempts,
            observer=self.health.observe,
            on_status=on_status,
            clock=clock,
            sleep=sleep,
        )
        self.watchdog = HealthWatchdog(self.health, interval_s=config.health.check_interval_s)

    def _capture_context(self) -> str:
        status = self.capture.status()
        text = f"capture {status.state.value}"
        return f"{text}: {status.last_error}" if status.last_error else text

    def start(self) -> None:
        self.health.mark_started()
        self.capture.start()
        self.watchdog.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop both threads; by default wait long enough for a blocked stream open to end."""
        if timeout is None:
            timeout = self.config.open_timeout_s + self.config.read_timeout_s + 2.0
        watchdog_done = self.watchdog.stop(timeout)
        capture_done = self.capture.stop(timeout)
        return watchdog_done and capture_done

    def latest(self, after_seq: int = 0, timeout: float | None = None) -> CapturedFrame | None:
        return self.capture.latest(after_seq, timeout)

    def status(self) -> CameraStatus:
        return CameraStatus(capture=self.capture.status(), health=self.health.snapshot())
