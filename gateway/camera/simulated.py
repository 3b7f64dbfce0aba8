"""A scriptable in-memory `FrameSource`: the simulated twin of a camera for tests and demos.

It can fail a scripted number of opens, fail chosen reads (a dropped stream), end like a file, or
run forever like a camera. Frames come from a function of the frame index, so a test can encode
the index in the pixels and check ordering downstream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Literal

import numpy as np

from gateway.camera.errors import CameraError, EndOfStream, SourceOpenError, SourceReadError
from gateway.camera.source import Sleeper, SourceFrame
from gateway.vision.image_io import BGRImage

FrameFactory = Callable[[int], BGRImage]
PositionMode = Literal["index", "constant", "none"]


def numbered_frame(index: int, *, width: int = 64, height: int = 48) -> BGRImage:
    """A frame whose first pixel row encodes `index` (read it back with `frame_number`)."""
    frame = np.full((height, width, 3), 128, np.uint8)
    frame[0, :8, 0] = [(index >> (8 * byte)) & 0xFF for byte in range(8)]
    return frame


def frame_number(frame: BGRImage) -> int:
    """The index `numbered_frame` wrote into `frame`."""
    return sum(int(frame[0, byte, 0]) << (8 * byte) for byte in range(8))


class SimulatedSource:
    """Scripted frame source.

    - `open_errors`: consumed one per `open()`; an exception is raised, None opens; once the
      iterable is exhausted every open succeeds (`itertools.repeat(error)` fails forever).
    - `read_errors`: read number (counted over the source's life, from 0) -> exception raised
      by that read instead of a frame.
    - `length`: frames before `EndOfStream` (None: endless, like a camera); `loop` restarts.
    - `positions`: "index" reports the frame index as decoder position, "constant" always the
      same (a stuck decoder), "none" reports no position.
    - `interval_s`/`sleep`: pause before each frame, like a camera's frame period.
    """

    def __init__(
        self,
        frames: FrameFactory = numbered_frame,
        *,
        open_errors: Iterable[CameraError | None] = (),
        read_errors: Mapping[int, CameraError] | None = None,
        length: int | None = None,
        loop: bool = False,
        live: bool = True,
        positions: PositionMode = "index",
        interval_s: float = 0.0,
        sleep: Sleeper | None = None,
        name: str = "sim",
    ) -> None:
        self._frames = frames
        self._open_errors = iter(open_errors)
        self._read_errors = dict(read_errors or {})
        self.length = length
        self.loop = loop
        self.live = live
        self.positions = positions
        self.interval_s = interval_s
        self._sleep = sleep
        self.name = name
        self._lock = threading.Lock()
        self.opened = False
        self.open_calls = 0
        self.close_calls = 0
        self.reads = 0
        self.frames_served = 0
        self._index = 0

    @property
    def description(self) -> str:
        return f"sim:{self.name}"

    @property
    def is_live(self) -> bool:
        return self.live

    def open(self) -> None:
        with self._lock:
            self.open_calls += 1
            error = next(self._open_errors, None)
            if error is not None:
                raise error
            self.opened = True
            if not self.live:
                self._index = 0

    def read(self) -> SourceFrame:
        with self._lock:
            if not self.opened:
                raise SourceReadError(f"{self.description}: not open")
            number = self.reads
            self.reads += 1
            error = self._read_errors.pop(number, None)
            if error is not None:
                raise error
            if self.length is not None and self._index >= self.length:
                if not self.loop:
                    raise EndOfStream(f"{self.description}: end")
                self._index = 0
            index = self._index
            self._index += 1
            self.frames_served += 1
        if self.interval_s > 0 and self._sleep is not None:
            self._sleep(self.interval_s)
        position = {"index": float(index), "constant": 0.0, "none": None}[self.positions]
        return SourceFrame(self._frames(index), position)

    def close(self) -> None:
        with self._lock:
            self.close_calls += 1
            self.opened = False


def failing_open(message: str = "sim: connection refused") -> SourceOpenError:
    """A transient open error for scripts."""
    return SourceOpenError(message)
