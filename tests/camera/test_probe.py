"""probe_camera: a working source reports size and frames; a broken one reports its error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.camera.errors import SourceReadError
from gateway.camera.probe import probe_camera
from gateway.camera.simulated import SimulatedSource
from gateway.config.camera import CameraConfig
from tests.camera.conftest import FakeClock


def test_probe_reads_a_video_file(make_video: Callable[..., Path]) -> None:
    clip = make_video([10, 50, 90])
    report = probe_camera(CameraConfig(source=str(clip), paced=True), frames=10)
    assert report.ok and report.kind == "file" and report.error is None
    assert (report.frames, report.width, report.height) == (3, 64, 48)


def test_probe_reports_errors_instead_of_raising(tmp_path: Path) -> None:
    report = probe_camera(CameraConfig(source=str(tmp_path)))
    assert not report.ok and report.kind == "folder"
    assert report.error is not None and "no images" in report.error


def test_probe_measures_fps_and_stops_at_a_read_error() -> None:
    clock = FakeClock()
    source = SimulatedSource(
        read_errors={4: SourceReadError("sim: gone")}, interval_s=0.04, sleep=clock.sleep
    )
    report = probe_camera(CameraConfig(), frames=10, source=source, clock=clock)
    assert report.frames == 4 and report.error == "sim: gone"
    assert report.measured_fps == pytest.approx(25.0)
    assert source.close_calls == 1
