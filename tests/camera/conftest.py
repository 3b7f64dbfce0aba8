"""Helpers for the camera tests: a fake clock, and small generated videos and image folders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from gateway.vision.image_io import BGRImage


class FakeClock:
    """A monotonic clock the test moves; `sleep` advances it and records the delay."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def grey_frame(level: int, width: int = 64, height: int = 48) -> BGRImage:
    return np.full((height, width, 3), level, np.uint8)


def write_video(path: Path, frames: Sequence[BGRImage], fps: float = 10.0) -> Path:
    """An MJPG .avi (robust in every OpenCV build) holding `frames`."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def write_images(folder: Path, frames: Sequence[BGRImage], names: Sequence[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for frame, name in zip(frames, names, strict=True):
        assert cv2.imwrite(str(folder / name), frame)
    return folder


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    def make(levels: Sequence[int], name: str = "clip.avi", fps: float = 10.0) -> Path:
        return write_video(tmp_path / name, [grey_frame(level) for level in levels], fps)

    return make
