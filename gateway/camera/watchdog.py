"""A small thread that runs the health monitor's time-based checks between frames.

Frames drive most health checks, but a camera that stops sending frames produces nothing to
react to; this thread calls `CameraHealthMonitor.check()` every `check_interval_s` so a
disconnection is raised on time even while the capture thread is blocked in an open or read.
"""

from __future__ import annotations

import logging
import threading

from gateway.camera.health import CameraHealthMonitor

log = logging.getLogger(__name__)


class HealthWatchdog:
    """Calls `monitor.check()` periodically between `start()` and `stop()`."""

    def __init__(self, monitor: CameraHealthMonitor, *, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._monitor = monitor
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checks = 0

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("HealthWatchdog.start() called twice")
        self._thread = threading.Thread(target=self._run, name="camera-health", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> bool:
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._monitor.check()
            except Exception:  # keep watching; a failed check must not end the watchdog
                log.exception("camera health check failed")
            self.checks += 1
