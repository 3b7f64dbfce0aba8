"""Recognition on real faces at each shipped pack's calibrated thresholds.

Safety, for every shipped pack:
- deepface's different-person pairs all score below the resident threshold;
- every LFW impostor pair of the development folds, replayed as a 3-frame live track against a
  gallery holding the other person, is refused by the decision rule (zero false grants);
- East-Asian strangers (NUAA webcam subjects and the live video frames) are never granted against
  a small gallery.
Usefulness, for the pack that can deliver it (mobilefacenet; the default pack's safe threshold
turns almost every resident away, see gateway/models/manifest.toml):
- most of deepface's same-person pairs reach the threshold;
- each NUAA resident's other webcam captures are recognised.
"""

from __future__ import annotations

import csv
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from gateway.config.model import VisionConfig
from gateway.eval.embedding_cache import embed_with_cache
from gateway.gallery import Gallery
from gateway.vision.decision import Verdict
from gateway.vision.factory import PipelineModels, effective_thresholds
from gateway.vision.image_io import read_image
from gateway.vision.pipeline import FacePipeline, central_face
from gateway.vision.recogniser import frame_evidence, judge_track, rule_from_config
from gateway.vision.tracking import Track

pytestmark = pytest.mark.slow

Packs = dict[str, tuple[FacePipeline, PipelineModels]]
SHIPPED = ("default", "mobilefacenet")


def _embed(pipeline: FacePipeline, path: Path) -> np.ndarray | None:
    frame = read_image(path)
    face = central_face(pipeline.detect(frame), frame.shape[1], frame.shape[0])
    return None if face is None else pipeline.embed_face(frame, face)


@pytest.fixture(scope="module")
def lfw_pairs(
    faces_dir: Path, pipeline: FacePipeline, embeddings_cache: Path
) -> list[tuple[bool, np.ndarray, np.ndarray]]:
    """The default pack's embeddings of every LFW pair, through the session's embedding cache
    (`menwei eval verify`'s test embeds the same photos; the mobilefacenet pack's LFW figures come
    from `menwei eval calibrate`: embedding 2,700 more images costs CI minutes)."""
    rows = list(csv.DictReader((faces_dir / "lfw/pairs.csv").open()))
    paths = [row[key] for row in rows for key in ("path1", "path2")]
    cache = embeddings_cache / f"{pipeline.model_id}.npz"
    embedded = embed_with_cache(pipeline, faces_dir, paths, cache)
    pairs = []
    for row in rows:
        first, second = embedded.vectors.get(row["path1"]), embedded.vectors.get(row["path2"])
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
    """Replay one probe as a `frames`-long live track through the runtime's `judge_track`."""
    return _replay_visit([probe] * frames, gallery, config, models)


def _replay_visit(
    probes: list[np.ndarray], gallery: Gallery, config: VisionConfig, models: PipelineModels
) -> Verdict:
    """Replay `probes` as the frames of one live track through the runtime's `judge_track`
    (the pack's thresholds and fusion agreement); the first grant ends the visit."""
    threshold, _ = effective_thresholds(models, config)
    rule = rule_from_config(
        config, threshold, models.small_gallery_threshold, models.fusion_agreement
    )
    track = Track(1, (0.0, 0.0, 0.0, 0.0), 0, 0, history=deque(maxlen=rule.window))
    verdict = Verdict.UNKNOWN
    for probe in probes:
        match = gallery.search(probe)
        assert match is not None
        track.history.append(frame_evidence(match, True, probe))
        verdict = judge_track(track, rule, gallery.search)[0].verdict
        if verdict is Verdict.GRANT:
            break
    return verdict


def _gallery(model_id: str, people: dict[str, np.ndarray]) -> Gallery:
    dimension = len(next(iter(people.values())))
    gallery = Gallery(model_id, dimension)
    for identity, vector in people.items():
        gallery.add(identity, vector, model_id)
    return gallery


@pytest.mark.parametrize("pack", SHIPPED)
def test_deepface_pairs_split_at_the_resident_threshold(
    pack: str, shipped_pipelines: Packs, faces_dir: Path
) -> None:
    pipeline, models = shipped_pipelines[pack]
    threshold, _ = effective_thresholds(models, pipeline.config)
    same: list[float] = []
    different: list[float] = []
    embedded: dict[str, np.ndarray | None] = {}
    for row in csv.DictReader((faces_dir / "deepface_unit/pairs.csv").open()):
        for key in ("path1", "path2"):
            if row[key] not in embedded:  # 61 photos behind 281 pairs: embed each once
                embedded[row[key]] = _embed(pipeline, faces_dir / row[key])
        first, second = embedded[row["path1"]], embedded[row["path2"]]
        assert first is not None and second is not None, row
        (same if row["same"] == "1" else different).append(float(first @ second))
    assert len(same) >= 100 and len(different) >= 100
    # The safe direction holds for every pair: no two different people reach the threshold.
    assert max(different) < threshold, f"different-person pair above: {max(different):.4f}"
    accepted = sum(score >= threshold for score in same) / len(same)
    if pack == "mobilefacenet":
        # Varied web photos, one against one: most same-person pairs reach the threshold.
        assert accepted >= 0.6, f"only {accepted:.0%} of same-person pairs reach {threshold}"


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


@pytest.mark.parametrize("pack", SHIPPED)
def test_east_asian_strangers_are_not_granted_against_a_small_gallery(
    pack: str, shipped_pipelines: Packs, faces_dir: Path
) -> None:
    pipeline, models = shipped_pipelines[pack]
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
                assert _replay(probe, gallery, pipeline.config, models) is not Verdict.GRANT, (
                    stranger,
                    resident,
                )
        if pack == "mobilefacenet":  # the resident's own other captures are recognised:
            # at the door, as one visit of them (5 frames cycling through the captures); each
            # held up alone, at least one (the threshold sits above visits mixing strangers,
            # so single captures near it are the per-image cost, gateway/models/manifest.toml).
            others = vectors[1:]
            visit = [others[i % len(others)] for i in range(5)]
            assert _replay_visit(visit, gallery, pipeline.config, models) is Verdict.GRANT, resident
            own = [_replay(v, gallery, pipeline.config, models) for v in others]
            assert Verdict.GRANT in own, resident
    assert strangers_tried > 200
