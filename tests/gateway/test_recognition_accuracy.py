"""Recognition on real faces at the calibrated default thresholds.

- deepface's same-person pairs score above the resident threshold, different-person pairs below;
- every LFW impostor pair of the development folds, replayed as a 3-frame live track against a
  gallery holding the other person, is refused by the default decision rule (zero false grants);
- genuine LFW pairs replayed the same way are mostly granted (the rule is not simply "never").
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from gateway.config.model import VisionConfig
from gateway.gallery import Gallery
from gateway.vision.decision import FrameEvidence, Verdict, decide
from gateway.vision.factory import PipelineModels, effective_thresholds
from gateway.vision.image_io import read_image
from gateway.vision.pipeline import FacePipeline, central_face
from gateway.vision.recogniser import rule_from_config

pytestmark = pytest.mark.slow


def _embed(pipeline: FacePipeline, path: Path) -> np.ndarray | None:
    frame = read_image(path)
    face = central_face(pipeline.detect(frame), frame.shape[1], frame.shape[0])
    return None if face is None else pipeline.embed_face(frame, face)


@pytest.fixture(scope="module")
def lfw_pairs(faces_dir: Path, pipeline: FacePipeline) -> list[tuple[bool, np.ndarray, np.ndarray]]:
    rows = list(csv.DictReader((faces_dir / "lfw/pairs.csv").open()))
    cache: dict[str, np.ndarray | None] = {}
    pairs = []
    for row in rows:
        for key in ("path1", "path2"):
            if row[key] not in cache:
                cache[row[key]] = _embed(pipeline, faces_dir / row[key])
        first, second = cache[row["path1"]], cache[row["path2"]]
        assert first is not None and second is not None, row
        pairs.append((row["same"] == "1", first, second))
    return pairs


def _replay(
    probe: np.ndarray,
    enrolled: np.ndarray,
    model_id: str,
    frames: int = 3,
    config: VisionConfig | None = None,
    threshold: float = 0.0,
) -> Verdict:
    config = config or VisionConfig()
    gallery = Gallery(model_id, probe.shape[0])
    gallery.add("enrolled", enrolled, model_id)
    rule = rule_from_config(config, threshold)
    history = []
    for _ in range(frames):
        match = gallery.search(probe)
        assert match is not None
        history.append(FrameEvidence(match.identity, match.score, match.margin, live=True))
    return decide(history, rule).verdict


def test_deepface_pairs_split_at_the_resident_threshold(
    pipeline: FacePipeline, pipeline_models: PipelineModels, faces_dir: Path
) -> None:
    threshold, _ = effective_thresholds(pipeline_models, pipeline.config)
    same, different = [], []
    for row in csv.DictReader((faces_dir / "deepface_unit/pairs.csv").open()):
        first = _embed(pipeline, faces_dir / row["path1"])
        second = _embed(pipeline, faces_dir / row["path2"])
        assert first is not None and second is not None, row
        (same if row["same"] == "1" else different).append(float(first @ second))
    assert len(same) >= 100 and len(different) >= 100
    assert min(same) >= threshold, f"same-person pair below threshold: {min(same):.4f}"
    assert max(different) < threshold, f"different-person pair above: {max(different):.4f}"


def test_no_lfw_impostor_is_granted_as_a_three_frame_track(
    lfw_pairs: list[tuple[bool, np.ndarray, np.ndarray]],
    pipeline: FacePipeline,
    pipeline_models: PipelineModels,
) -> None:
    threshold, _ = effective_thresholds(pipeline_models, pipeline.config)
    impostors = [(a, b) for same, a, b in lfw_pairs if not same]
    assert len(impostors) == 900
    for probe, enrolled in impostors:
        for first, second in ((probe, enrolled), (enrolled, probe)):
            verdict = _replay(
                first, second, pipeline.model_id, config=pipeline.config, threshold=threshold
            )
            assert verdict is not Verdict.GRANT


def test_most_genuine_lfw_pairs_are_granted(
    lfw_pairs: list[tuple[bool, np.ndarray, np.ndarray]],
    pipeline: FacePipeline,
    pipeline_models: PipelineModels,
) -> None:
    threshold, _ = effective_thresholds(pipeline_models, pipeline.config)
    genuine = [(a, b) for same, a, b in lfw_pairs if same]
    granted = sum(
        _replay(a, b, pipeline.model_id, config=pipeline.config, threshold=threshold)
        is Verdict.GRANT
        for a, b in genuine
    )
    # One photo against one photo, years apart: the door sees several frames and templates.
    assert granted / len(genuine) >= 0.88
