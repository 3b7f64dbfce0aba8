"""Recognition on real faces at the calibrated default thresholds.

- deepface's different-person pairs all score below the resident threshold, most same-person
  pairs above it;
- every LFW impostor pair of the development folds, replayed as a 3-frame live track against a
  gallery holding the other person, is refused by the default decision rule (zero false grants);
- genuine LFW pairs replayed against a building-sized gallery (the person plus 40 others) are
  granted more often than not (the rule is not simply "never");
- East-Asian strangers (NUAA webcam subjects), whom this embedder scores close to each other, are
  never granted against a small gallery (the stricter small-gallery threshold).
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
    gallery: Gallery,
    config: VisionConfig,
    models: PipelineModels,
    frames: int = 3,
) -> Verdict:
    """Replay one probe as a `frames`-long live track through the default decision rule."""
    threshold, _ = effective_thresholds(models, config)
    rule = rule_from_config(config, threshold, models.small_gallery_threshold)
    history = []
    for _ in range(frames):
        match = gallery.search(probe)
        assert match is not None
        history.append(
            FrameEvidence(
                match.identity, match.score, match.margin, live=True, competitors=match.competitors
            )
        )
    return decide(history, rule).verdict


def _gallery(model_id: str, people: dict[str, np.ndarray]) -> Gallery:
    gallery = Gallery(model_id, 128)
    for identity, vector in people.items():
        gallery.add(identity, vector, model_id)
    return gallery


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
    # The safe direction holds for every pair: no two different people reach the threshold.
    assert max(different) < threshold, f"different-person pair above: {max(different):.4f}"
    # The threshold is set for zero false grants in 1:N (see models/manifest.toml), so not every
    # same-person pair of these varied web photos reaches it; most do, and all rank above the
    # different-person pairs' maximum minus a small overlap (look-alike actors).
    accepted = sum(score >= threshold for score in same) / len(same)
    assert accepted >= 0.6, f"only {accepted:.0%} of same-person pairs reach {threshold}"
    assert min(same) > max(different) - 0.01


def test_no_lfw_impostor_is_granted_as_a_three_frame_track(
    lfw_pairs: list[tuple[bool, np.ndarray, np.ndarray]],
    pipeline: FacePipeline,
    pipeline_models: PipelineModels,
) -> None:
    impostors = [(a, b) for same, a, b in lfw_pairs if not same]
    assert len(impostors) == 900
    for probe, enrolled in impostors:
        for first, second in ((probe, enrolled), (enrolled, probe)):
            gallery = _gallery(pipeline.model_id, {"enrolled": second})
            verdict = _replay(first, gallery, pipeline.config, pipeline_models)
            assert verdict is not Verdict.GRANT


def test_most_genuine_lfw_pairs_are_granted_in_a_building_sized_gallery(
    lfw_pairs: list[tuple[bool, np.ndarray, np.ndarray]],
    pipeline: FacePipeline,
    pipeline_models: PipelineModels,
) -> None:
    genuine = [(a, b) for same, a, b in lfw_pairs if same]
    others = [b for same, _, b in lfw_pairs if not same]
    granted = 0
    for index, (probe, enrolled) in enumerate(genuine):
        neighbours = {f"other{k}": others[(index * 7 + k) % len(others)] for k in range(40)}
        gallery = _gallery(pipeline.model_id, {"enrolled": enrolled, **neighbours})
        granted += _replay(probe, gallery, pipeline.config, pipeline_models) is Verdict.GRANT
    # One photo against one photo, years apart, at a threshold chosen for zero false grants
    # (measured 58%); at the door several frames and templates per resident raise it.
    assert granted / len(genuine) >= 0.5, granted / len(genuine)


def test_east_asian_strangers_are_not_granted_against_a_small_gallery(
    faces_dir: Path, pipeline: FacePipeline, pipeline_models: PipelineModels
) -> None:
    rows = [
        r
        for r in csv.DictReader((faces_dir / "antispoof/manifest.csv").open())
        if r["liveness_label"] == "live" and r["subject"].startswith(("nuaa", "lestari"))
    ]
    by_subject: dict[str, list[np.ndarray]] = {}
    for row in rows:
        vector = _embed(pipeline, faces_dir / row["path"])
        if vector is not None:
            by_subject.setdefault(row["subject"], []).append(vector)
    assert len(by_subject) >= 8
    strangers_tried = 0
    for resident, vectors in by_subject.items():
        gallery = _gallery(pipeline.model_id, {resident: vectors[0]})
        for stranger, probes in by_subject.items():
            if stranger == resident:
                continue
            for probe in probes:
                strangers_tried += 1
                assert (
                    _replay(probe, gallery, pipeline.config, pipeline_models) is not Verdict.GRANT
                ), (stranger, resident)
        # the resident's own other captures are still recognised
        own = [_replay(v, gallery, pipeline.config, pipeline_models) for v in vectors[1:]]
        assert own.count(Verdict.GRANT) >= len(own) - 1, resident
    assert strangers_tried > 200
