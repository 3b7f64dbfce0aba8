"""`menwei bench --quick --json --vs opencv`: every figure the issue asks for is present."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.eval.cli_runner import run_cli, run_json


@pytest.mark.shared
@pytest.mark.slow
def test_quick_bench_reports_every_figure(models_mirror: Path, faces_dir: Path) -> None:
    report = run_json(
        ["bench", "--quick", "--vs", "opencv", "--faces", str(faces_dir)], models_mirror
    )
    assert set(report["stages"]) == {"detect", "align", "liveness", "embed", "search"}
    for row in [*report["stages"].values(), report["one_face_pipeline"]]:
        assert 0 < row["p50"] <= row["p95"]
    assert report["fps"]["1_face"] > 0 and report["fps"]["3_faces"] > 0
    assert set(report["search"]) == {"1000", "10000", "100000"}
    assert report["search"]["1000"]["p50"] < report["search"]["100000"]["p50"]
    assert report["cold_start_s"] > 0.1
    assert report["cold_start_s"] >= sum(report["cold_start_phases_s"].values()) - 1e-6
    assert 0 < report["rss_with_10k_templates_mib"] <= report["peak_rss_mib"]
    assert set(report["targets"]) == {
        "one_face_pipeline_p50_ms",
        "search_100k_p50_ms",
        "cold_start_s",
        "rss_with_10k_templates_mib",
    }
    versus = report["vs_opencv"]
    assert versus["ratio_p50"] > 0
    assert versus["same_face_count_frames"] == versus["frames"]
    # every comparison is measured in the same run, with the load it ran under
    previous = report["vs_previous"]
    for wiring in ("current", "previous"):
        assert previous[wiring]["one_face_pipeline"]["p50"] > 0
    ratios = previous["ratio_p50"]
    assert set(ratios) >= {"one_face_pipeline", "detect", "embed", "liveness"}
    assert ratios["one_face_pipeline"] == pytest.approx(
        previous["current"]["one_face_pipeline"]["p50"]
        / previous["previous"]["one_face_pipeline"]["p50"]
    )
    assert report["load_average_1min"] >= 0 and report["load_average_1min_end"] >= 0


def test_missing_faces_folder_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run_cli(["bench", "--quick", "--faces", str(tmp_path / "absent")], tmp_path)
    assert code == 2
    assert "absent" in err and "MENWEI_SHARED" in err
