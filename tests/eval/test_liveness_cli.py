"""`menwei eval liveness` on the shared presentation-attack manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config.model import LivenessConfig
from tests.eval.cli_runner import run_json

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture(scope="module")
def liveness_report(models_mirror: Path, faces_dir: Path) -> dict[str, Any]:
    return run_json(
        [
            "eval",
            "liveness",
            "--manifest",
            str(faces_dir / "antispoof" / "manifest.csv"),
            "--root",
            str(faces_dir),
        ],
        models_mirror,
    )


def test_calibrated_threshold_meets_the_bpcer_and_apcer_bars(
    liveness_report: dict[str, Any],
) -> None:
    calibrated = liveness_report["calibrated"]
    assert calibrated["bpcer"] <= 0.05
    assert calibrated["apcer"]["print_photo"] <= 0.05
    assert calibrated["apcer"]["screen_replay"] <= 0.05
    assert liveness_report["auc"] >= 0.99


def test_configured_threshold_is_reported(liveness_report: dict[str, Any]) -> None:
    configured = liveness_report["configured"]
    assert configured["threshold"] == pytest.approx(LivenessConfig().threshold)  # the default
    # A stricter threshold can only reject more bona fide faces than the calibrated one.
    assert configured["bpcer"] >= liveness_report["calibrated"]["bpcer"] or (
        configured["threshold"] <= liveness_report["calibrated"]["threshold"]
    )
    # The shipped default is the calibrated operating point: it meets the targets itself.
    assert configured["bpcer"] <= 0.05
    assert configured["apcer"]["print_photo"] <= 0.05
    assert configured["apcer"]["screen_replay"] <= 0.05


def test_every_sample_is_accounted_for(liveness_report: dict[str, Any]) -> None:
    counts = liveness_report["counts"]
    assert sum(row["samples"] for row in counts.values()) == liveness_report["samples"] == 109
    scored = [s for s in liveness_report["scores"] if s["score"] is not None]
    no_face = liveness_report["bona_fide_no_face"] + liveness_report["attack_no_face"]
    assert len(scored) + no_face == 109
