"""Image-folder and video-file sources: order, end, loop, pacing, and clear errors for bad input."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from gateway.camera.errors import EndOfStream, FrameDecodeError, SourceOpenError, SourceReadError
from gateway.camera.folder_source import ImageFolderSource, natural_key
from gateway.camera.opencv_source import (
    V4L2_SELECT_TIMEOUT_ENV,
    V4L2Source,
    VideoFileSource,
    redact_url,
)
from gateway.camera.source import FrameSource, SourceFrame
from tests.camera.conftest import FakeClock, grey_frame, write_images
from tests.conftest import require_shared


def read_all(source: FrameSource, limit: int = 10_000) -> list[SourceFrame]:
    frames = []
    with pytest.raises(EndOfStream):
        for _ in range(limit):
            frames.append(source.read())
    return frames


def mean_level(frame: SourceFrame) -> float:
    return float(frame.image.mean())


# --- image folder -------------------------------------------------------------------------


def test_folder_plays_images_in_natural_order_then_ends(tmp_path: Path) -> None:
    names = ["img10.png", "img2.png", "img1.png", "notes.txt", ".hidden.png"]
    levels = [100, 20, 10, 0, 0]
    write_images(tmp_path, [grey_frame(level) for level in levels[:3]], names[:3])
    (tmp_path / "notes.txt").write_text("not an image")
    cv2.imwrite(str(tmp_path / ".hidden.png"), grey_frame(250))
    source = ImageFolderSource(tmp_path)
    source.open()
    frames = read_all(source)
    assert [round(mean_level(frame)) for frame in frames] == [10, 20, 100]
    assert [frame.position for frame in frames] == [0.0, 1.0, 2.0]
    assert frames[0].image.dtype == np.uint8 and frames[0].image.shape == (48, 64, 3)
    assert natural_key("a2") < natural_key("a10")


def test_folder_loops_and_reopen_starts_over(tmp_path: Path) -> None:
    write_images(tmp_path, [grey_frame(10), grey_frame(60)], ["a.png", "b.png"])
    source = ImageFolderSource(tmp_path, loop=True)
    source.open()
    levels = [round(mean_level(source.read())) for _ in range(5)]
    assert levels == [10, 60, 10, 60, 10]
    source.close()
    with pytest.raises(SourceReadError, match="not open"):
        source.read()
    source.open()
    assert round(mean_level(source.read())) == 10


def test_paced_folder_spaces_frames_on_the_clock(tmp_path: Path) -> None:
    write_images(tmp_path, [grey_frame(i * 10) for i in range(4)], [f"{i}.png" for i in range(4)])
    clock = FakeClock()
    source = ImageFolderSource(tmp_path, paced=True, fps=5.0, clock=clock, sleep=clock.sleep)
    source.open()
    read_all(source)
    assert clock.sleeps == pytest.approx([0.2, 0.2, 0.2])


def test_folder_without_images_is_a_permanent_open_error(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(SourceOpenError, match="no images") as caught:
        ImageFolderSource(tmp_path).open()
    assert caught.value.permanent
    with pytest.raises(SourceOpenError, match="not a folder"):
        ImageFolderSource(tmp_path / "missing").open()


def test_a_corrupt_image_is_one_bad_frame_not_a_dead_source(tmp_path: Path) -> None:
    write_images(tmp_path, [grey_frame(10), grey_frame(30)], ["1.png", "3.png"])
    (tmp_path / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    source = ImageFolderSource(tmp_path)
    source.open()
    assert round(mean_level(source.read())) == 10
    with pytest.raises(FrameDecodeError, match=r"2\.png"):
        source.read()
    assert round(mean_level(source.read())) == 30


# --- video file ---------------------------------------------------------------------------


def test_video_file_reads_every_frame_in_order(make_video: Callable[..., Path]) -> None:
    levels = [20, 60, 100, 140, 180, 220]
    source = VideoFileSource(make_video(levels))
    source.open()
    frames = read_all(source)
    assert len(frames) == len(levels) and source.fps == pytest.approx(10.0)
    measured = [mean_level(frame) for frame in frames]
    assert measured == pytest.approx(levels, abs=3)
    positions = [frame.position for frame in frames]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_looping_video_restarts(make_video: Callable[..., Path]) -> None:
    source = VideoFileSource(make_video([30, 90, 150]), loop=True)
    source.open()
    measured = [round(mean_level(source.read()) / 30) for _ in range(7)]
    assert measured == [1, 3, 5, 1, 3, 5, 1]
    assert source.loops == 2


def test_paced_video_follows_the_file_fps(make_video: Callable[..., Path]) -> None:
    clock = FakeClock()
    source = VideoFileSource(
        make_video([10] * 4, fps=20.0), paced=True, clock=clock, sleep=clock.sleep
    )
    source.open()
    read_all(source)
    assert clock.sleeps == pytest.approx([0.05, 0.05, 0.05])


def test_a_file_that_is_not_a_video_is_a_permanent_open_error(tmp_path: Path) -> None:
    fake = tmp_path / "clip.mp4"
    fake.write_text("this is not a video")
    with pytest.raises(SourceOpenError, match="not a readable video") as caught:
        VideoFileSource(fake).open()
    assert caught.value.permanent
    with pytest.raises(SourceOpenError, match="no such file"):
        VideoFileSource(tmp_path / "missing.mp4").open()


@pytest.mark.shared
def test_shared_hamilton_clip_decodes_at_its_native_size() -> None:
    clip = require_shared("faces", "videos", "short_hamilton_clip.mp4")
    source = VideoFileSource(clip)
    source.open()
    try:
        frames = [source.read() for _ in range(30)]
    finally:
        source.close()
    assert source.fps == pytest.approx(29.97, abs=0.01) and source.frame_count > 200
    assert all(frame.image.shape == (360, 640, 3) for frame in frames)
    differences = [
        float(np.abs(a.image.astype(int) - b.image.astype(int)).mean())
        for a, b in itertools.pairwise(frames)
    ]
    assert max(differences) > 0.5  # a real clip moves


# --- V4L2 and URLs ------------------------------------------------------------------------


def test_missing_v4l2_device_is_a_transient_open_error() -> None:
    with pytest.raises(SourceOpenError, match="no such device") as caught:
        V4L2Source("/dev/video99").open()
    assert not caught.value.permanent
    with pytest.raises(SourceOpenError, match="cannot open"):
        V4L2Source(99).open()


def test_v4l2_read_timeout_reaches_opencv_unless_the_operator_set_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(V4L2_SELECT_TIMEOUT_ENV, raising=False)
    with pytest.raises(SourceOpenError):
        V4L2Source(99, read_timeout_s=2.5).open()
    assert os.environ[V4L2_SELECT_TIMEOUT_ENV] == "3"
    monkeypatch.setenv(V4L2_SELECT_TIMEOUT_ENV, "7")
    with pytest.raises(SourceOpenError):
        V4L2Source(99, read_timeout_s=1.0).open()
    assert os.environ[V4L2_SELECT_TIMEOUT_ENV] == "7"


def test_credentials_never_appear_in_descriptions() -> None:
    assert redact_url("rtsp://admin:s3cret@10.0.0.5:554/live") == "rtsp://***@10.0.0.5:554/live"
    assert redact_url("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live"
