"""The `FrameSource` interface every camera source implements, and what a read returns.

A source is opened, read one frame at a time and closed, all from the one capture thread; it may
be opened again after a failure (that is how the capture reconnects).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from gateway.vision.image_io import BGRImage

Clock = Callable[[], float]
Sleeper = Callable[[float], None]


@dataclass(frozen=True)
class SourceFrame:
    """One decoded frame and where the decoder says it is.

    `position` is the decoder's own timestamp or index (ms position for files and streams,
    buffer timestamp for V4L2, file index for folders), or None when the source cannot tell.
    Two reads with the same position returned the same decoded frame.
    """

    image: BGRImage
    position: float | None


class FrameSource(Protocol):
    """A camera, stream, video file or image folder."""

    @property
    def description(self) -> str:
        """Human-readable source name for logs and the status page (credentials removed)."""
        ...

    @property
    def is_live(self) -> bool:
        """True for cameras and streams (frames keep coming whether read or not)."""
        ...

    def open(self) -> None:
        """Open or reopen; raises `SourceOpenError`."""
        ...

    def read(self) -> SourceFrame:
        """Next frame; raises `SourceReadError`, `FrameDecodeError` or `EndOfStream`."""
        ...

    def close(self) -> None:
        """Release the device or file; safe to call twice or when never opened."""
        ...


class Pacer:
    """Spaces frames `1/fps` apart on a clock (for demos that play files in real time)."""

    def __init__(self, fps: float, *, clock: Clock = time.monotonic, sleep: Sleeper = time.sleep):
        self.interval = 1.0 / fps if fps > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    def reset(self) -> None:
        self._next = None

    def wait(self) -> None:
        """Sleep until the next frame is due; a late frame is not made up for later."""
        if self.interval <= 0:
            return
        now = self._clock()
        if self._next is not None and self._next > now:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval
