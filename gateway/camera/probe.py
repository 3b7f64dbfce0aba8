"""One-shot camera check for installers and `menwei doctor`: open, read a few frames, report.

Runs in the caller's thread, never raises for a bad source: the report carries the error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.camera.errors import CameraError, EndOfStream
from gateway.camera.factory import build_source, resolve_kind
from gateway.camera.source import Clock, FrameSource
from gateway.config.camera import CameraConfig


@dataclass(frozen=True)
class ProbeReport:
    """What a probe found; `ok` when at least one frame was read."""

    kind: str
    source: str  # description, credentials removed
    frames: int
    width: int | None
    height: int | None
    measured_fps: float | None  # over the frames read; None with fewer than two
    error: str | None

    @property
    def ok(self) -> bool:
        return self.frames > 0


def probe_camera(
    config: CameraConfig,
    *,
    frames: int = 10,
    source: FrameSource | None = None,
    clock: Clock = time.monotonic,
) -> ProbeReport:
    """Open the configured source and read up to `frames` frames (unpaced)."""
    kind = resolve_kind(config) if source is None else "custom"
    source = source or build_source(config.model_copy(update={"paced": False}), clock=clock)
    width = height = None
    stamps: list[float] = []
    error: str | None = None
    try:
        source.open()
        for _ in range(frames):
            frame = source.read()
            stamps.append(clock())
            height, width = frame.image.shape[:2]
    except EndOfStream:
        pass
    except CameraError as failure:
        error = str(failure)
    except Exception as failure:  # a backend bug is a finding, not a crash
        error = f"unexpected error: {failure!r}"
    finally:
        source.close()
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    fps = (len(stamps) - 1) / span if span > 0 else None
    return ProbeReport(kind, source.description, len(stamps), width, height, fps, error)
