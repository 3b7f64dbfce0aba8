"""The pipeline's stage timer keeps a bounded window per stage, whatever the uptime (issue 12.10).

Before, every stage of every frame appended a float that only the benchmark ever cleared: about
140 MB a day at 10 fps. Real models on a real face: after more frames than the window holds,
each stage holds exactly the window, and the call counts still see every frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.vision.image_io import read_image
from gateway.vision.pipeline import FacePipeline, StageTimer

WINDOW = 16
FRAMES = 40


@pytest.fixture
def small_window(pipeline: FacePipeline) -> Iterator[FacePipeline]:
    kept = pipeline.timer
    pipeline.timer = StageTimer(keep=WINDOW)
    yield pipeline
    pipeline.timer = kept


def test_every_stage_keeps_only_its_window_after_many_frames(
    small_window: FacePipeline, faces_dir: Path
) -> None:
    frame = read_image(faces_dir / "deepface_unit/images/img1.jpg")
    for _ in range(FRAMES):
        [face] = small_window.analyse(frame, max_faces=1)
        assert face.usable
    timer = small_window.timer
    assert set(timer.samples) >= {"detect", "align", "liveness", "embed"}
    for stage, window in timer.samples.items():
        assert len(window) == WINDOW, stage
        assert timer.calls[stage] == FRAMES, stage
        assert all(ms > 0 for ms in window)


def test_the_default_window_is_bounded_for_a_long_run() -> None:
    timer = StageTimer()
    for _ in range(100_000):
        timer.run("detect", lambda: None)
    assert len(timer.samples["detect"]) == timer.keep < 100_000
    assert timer.calls["detect"] == 100_000
