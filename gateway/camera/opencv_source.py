"""OpenCV `VideoCapture` sources: a V4L2 device, a network stream (RTSP) or a video file.

Streams use the FFMPEG backend with connect and read timeouts, so a URL that never answers fails
after `open_timeout_s` instead of hanging the capture thread. Files can loop and can be paced at
their own frame rate. Credentials in URLs never appear in errors or descriptions.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from pathlib import Path

import cv2
import numpy as np

from gateway.camera.errors import EndOfStream, SourceOpenError, SourceReadError
from gateway.camera.source import Clock, Pacer, Sleeper, SourceFrame
from gateway.vision.errors import ImageDecodeError
from gateway.vision.image_io import BGRImage, to_bgr8

log = logging.getLogger(__name__)

_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]*@")
DEFAULT_FILE_FPS = 25.0


def redact_url(url: str) -> str:
    """The URL with any user:password@ replaced by ***@."""
    return _CREDENTIALS.sub("***@", url)


def _frame(raw: object, description: str) -> BGRImage:
    if not isinstance(raw, np.ndarray) or raw.size == 0:
        raise SourceReadError(f"{description}: decoder returned an empty frame")
    try:
        return to_bgr8(raw, name=description)
    except ImageDecodeError as error:
        raise SourceReadError(str(error)) from None


V4L2_SELECT_TIMEOUT_ENV = "OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT"


class V4L2Source:
    """A local camera through Video4Linux2 (index or /dev/video* path).

    OpenCV's V4L2 backend ignores CAP_PROP_READ_TIMEOUT_MSEC; a stalled device blocks each read
    for OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT seconds (default 10), read once per process. The
    first open sets it from `read_timeout_s` unless the environment already does.
    """

    def __init__(
        self,
        device: int | str,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float = 0.0,
        fourcc: str | None = None,
        read_timeout_s: float = 5.0,
    ) -> None:
        self.device = device
        self.read_timeout_s = read_timeout_s
        self.width = width
        self.height = height
        self.fps = fps
        self.fourcc = fourcc
        self._capture: cv2.VideoCapture | None = None

    @property
    def description(self) -> str:
        return f"v4l2:{self.device}"

    @property
    def is_live(self) -> bool:
        return True

    def open(self) -> None:
        self.close()
        if isinstance(self.device, str) and not Path(self.device).exists():
            raise SourceOpenError(f"{self.description}: no such device (unplugged?)")
        os.environ.setdefault(V4L2_SELECT_TIMEOUT_ENV, str(max(1, math.ceil(self.read_timeout_s))))
        capture = cv2.VideoCapture(self.device, cv2.CAP_V4L2)
        if not capture.isOpened():
            capture.release()
            raise SourceOpenError(f"{self.description}: cannot open the device (busy or absent)")
        if self.fourcc:
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*self.fourcc))
        if self.width and self.height:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps > 0:
            capture.set(cv2.CAP_PROP_FPS, self.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep latency low: no stale driver queue
        self._capture = capture

    def read(self) -> SourceFrame:
        if self._capture is None:
            raise SourceReadError(f"{self.description}: not open")
        ok, raw = self._capture.read()
        if not ok:
            raise SourceReadError(f"{self.description}: read failed (device gone or stalled)")
        stamp = float(self._capture.get(cv2.CAP_PROP_POS_MSEC))
        return SourceFrame(_frame(raw, self.description), stamp if stamp > 0 else None)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class StreamSource:
    """A network stream (RTSP and friends) through FFMPEG, with connect and read timeouts."""

    def __init__(
        self,
        url: str,
        *,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 5.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.url = url
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self._clock = clock
        self._capture: cv2.VideoCapture | None = None

    @property
    def description(self) -> str:
        return redact_url(self.url)

    @property
    def is_live(self) -> bool:
        return True

    def open(self) -> None:
        self.close()
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            round(self.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            round(self.read_timeout_s * 1000),
        ]
        started = self._clock()
        try:
            capture = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        except cv2.error as error:
            raise SourceOpenError(f"{self.description}: {error.msg.strip()}") from None
        if not capture.isOpened():
            capture.release()
            waited = self._clock() - started
            if waited >= 0.9 * self.open_timeout_s:
                reason = f"no answer within the {self.open_timeout_s:g} s open timeout"
            else:
                reason = f"connection refused or stream not found (after {waited:.1f} s)"
            raise SourceOpenError(f"{self.description}: {reason}")
        self._capture = capture

    def read(self) -> SourceFrame:
        if self._capture is None:
            raise SourceReadError(f"{self.description}: not open")
        ok, raw = self._capture.read()
        if not ok:
            raise SourceReadError(
                f"{self.description}: stream ended or no frame within {self.read_timeout_s:g} s"
            )
        stamp = float(self._capture.get(cv2.CAP_PROP_POS_MSEC))
        return SourceFrame(_frame(raw, self.description), stamp)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class VideoFileSource:
    """A video file; optionally looping, optionally paced at the file's own fps."""

    def __init__(
        self,
        path: str | Path,
        *,
        loop: bool = False,
        paced: bool = False,
        clock: Clock = time.monotonic,
        sleep: Sleeper = time.sleep,
    ) -> None:
        self.path = Path(path)
        self.loop = loop
        self.paced = paced
        self._clock = clock
        self._sleep = sleep
        self._capture: cv2.VideoCapture | None = None
        self._pacer: Pacer | None = None
        self.fps = 0.0
        self.frame_count = 0
        self.loops = 0

    @property
    def description(self) -> str:
        return f"file:{self.path}"

    @property
    def is_live(self) -> bool:
        return False

    def open(self) -> None:
        self.close()
        if not self.path.is_file():
            raise SourceOpenError(f"{self.description}: no such file", permanent=True)
        capture = self._open_capture()
        self.fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = self.fps if 1.0 <= self.fps <= 240.0 else DEFAULT_FILE_FPS
        self._pacer = Pacer(fps, clock=self._clock, sleep=self._sleep) if self.paced else None
        self._capture = capture

    def _open_capture(self) -> cv2.VideoCapture:
        try:
            capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        except cv2.error as error:
            raise SourceOpenError(
                f"{self.description}: {error.msg.strip()}", permanent=True
            ) from None
        if not capture.isOpened():
            capture.release()
            raise SourceOpenError(
                f"{self.description}: not a readable video (unknown format or corrupt)",
                permanent=True,
            )
        return capture

    def read(self) -> SourceFrame:
        if self._capture is None:
            raise SourceReadError(f"{self.description}: not open")
        ok, raw = self._capture.read()
        if not ok:
            if not self.loop:
                raise EndOfStream(f"{self.description}: end of file")
            self._rewind()
            ok, raw = self._capture.read()
            if not ok:
                raise SourceReadError(f"{self.description}: no frame after rewinding")
        position = float(self._capture.get(cv2.CAP_PROP_POS_FRAMES))
        frame = _frame(raw, self.description)
        if self._pacer is not None:
            self._pacer.wait()
        return SourceFrame(frame, position)

    def _rewind(self) -> None:
        """Back to the first frame: reopen, which works for every container (seeking may not)."""
        assert self._capture is not None
        self._capture.release()
        self._capture = None
        self._capture = self._open_capture()
        self.loops += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        if self._pacer is not None:
            self._pacer.reset()
