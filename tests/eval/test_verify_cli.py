"""`menwei eval verify` on the LFW development folds, through the CLI's JSON (run once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.eval.cli_runner import run_cli, run_json

pytestmark = [pytest.mark.shared, pytest.mark.slow]

DEFAULT_MODEL = "faceapi_face_recognition"

CONTRACT_KEYS = {
    "accuracy_mean",
    "accuracy_std",
    "tar_at_far_1e-3",
    "tar_at_far_1e-4",
    "no_face",
    "pairs",
    "threshold",
    "threshold_at_far_1e-3",
    "model_id",
}


@pytest.fixture(scope="module")
def lfw_report(
    models_mirror: Path,
    faces_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    embeddings_cache: Path,
) -> tuple[dict[str, Any], Path]:
    plot = tmp_path_factory.mktemp("verify") / "roc.png"
    report = run_json(
        [
            "eval",
            "verify",
            "--pairs",
            str(faces_dir / "lfw" / "pairs.csv"),
            "--root",
            str(faces_dir),
            "--plot",
            str(plot),
            # The recognition tests embed the same LFW photos with the same default model.
            "--embeddings-cache",
            str(embeddings_cache / f"{DEFAULT_MODEL}.npz"),
        ],
        models_mirror,
    )
    return report, plot


def test_json_has_the_contract_keys(lfw_report: tuple[dict[str, Any], Path]) -> None:
    report, _ = lfw_report
    assert report.keys() >= CONTRACT_KEYS
    assert report["pairs"] == 1800
    assert report["impostor_pairs"] == 900
    assert report["model_id"] == DEFAULT_MODEL


def test_lfw_accuracy_reaches_the_reference(lfw_report: tuple[dict[str, Any], Path]) -> None:
    report, _ = lfw_report
    assert report["accuracy_mean"] >= 0.9875
    assert 0.0 <= report["accuracy_std"] < 0.02
    assert len(report["fold_accuracies"]) == 3


def test_lfw_tar_at_far_reaches_the_reference(lfw_report: tuple[dict[str, Any], Path]) -> None:
    report, _ = lfw_report
    assert report["tar_at_far_1e-3"] >= 0.963
    # 900 impostors cannot resolve 1e-3: both points sit above the highest impostor score.
    assert report["false_accepts_at_far_1e-3"] == 0
    assert report["tar_at_far_1e-4"] <= report["tar_at_far_1e-3"]
    assert report["threshold_at_far_1e-3"] >= report["threshold"] - 0.2


def test_no_face_images_are_counted(lfw_report: tuple[dict[str, Any], Path]) -> None:
    report, _ = lfw_report
    assert 0 <= report["no_face"] <= 20
    assert report["pairs_with_missing_face"] >= (1 if report["no_face"] else 0)


def test_plot_is_a_png(lfw_report: tuple[dict[str, Any], Path]) -> None:
    _, plot = lfw_report
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_pairs_file_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run_cli(
        ["eval", "verify", "--pairs", str(tmp_path / "nope.csv"), "--root", str(tmp_path)], tmp_path
    )
    assert code == 2
    assert "nope.csv" in err and "not found" in err
