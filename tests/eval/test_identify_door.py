"""`menwei eval identify` replays the door: the quality gate and enrolment check by default
(`--ungated` the earlier protocol), and the runtime's rule even for an explicit `--threshold`
(only the resident threshold replaced: the pack's fusion agreement and small-gallery threshold
kept), per image and per visit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from gateway.config import parse_config
from gateway.eval.context import EvalContext
from gateway.eval.identify import replay_rule
from gateway.modelhub import load_manifest
from gateway.vision.align import AlignmentSpec
from gateway.vision.embedder import EmbedderSpec
from gateway.vision.factory import PipelineModels
from gateway.vision.pipeline import FacePipeline
from gateway.vision.recogniser import rule_from_config
from tests.eval.cli_runner import run_json, write_identities_subset
from tests.eval.conftest import MOBILEFACENET_LICENCE

SUBSET_PEOPLE = 60
VISIT_FRAMES = 3


def _context(small_gallery: float, agreement: float) -> EvalContext:
    models = PipelineModels(
        detector=Path("detector.onnx"),
        embedder=Path("embedder.onnx"),
        embedder_spec=EmbedderSpec("m"),
        alignment=AlignmentSpec(112),
        liveness=(),
        similarity_threshold=0.664,
        watchlist_threshold=0.664,
        small_gallery_threshold=small_gallery,
        fusion_agreement=agreement,
    )
    config = parse_config({}, environ={})
    return EvalContext(config, cast(FacePipeline, None), models)  # the rule needs no pipeline


def test_an_explicit_threshold_replaces_only_the_resident_threshold() -> None:
    context = _context(small_gallery=0.7, agreement=0.55)
    runtime = rule_from_config(context.config.vision, 0.664, 0.7, 0.55)
    explicit = replay_rule(context, 0.6)
    assert explicit == dataclasses.replace(runtime, similarity_threshold=0.6)
    assert explicit.agreement_threshold == 0.55  # frames still fuse at the pack's agreement
    assert explicit.small_gallery_identities > 0
    assert explicit.threshold_for(0) == 0.7 and explicit.threshold_for(10_000) == 0.6
    # A pack without a fusion agreement fuses at the threshold, as the door does.
    assert replay_rule(_context(float("nan"), float("nan")), 0.6).agreement_threshold == 0.6


def _never_judged(figures: dict[str, Any]) -> int:
    return int(figures["mated_never_judged"] + figures["non_mated_never_judged"])


@pytest.mark.shared
@pytest.mark.slow
def test_identify_cli_replays_the_door_per_visit_with_the_packs_rule(
    pack_models_dir: Callable[[str], Path], faces_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "mobilefacenet.toml"
    config.write_text(f'[models]\naccept_licence = ["{MOBILEFACENET_LICENCE}"]\n')
    subset = write_identities_subset(faces_dir, tmp_path / "identities.csv", SUBSET_PEOPLE)
    common = [
        "eval",
        "identify",
        "--pack",
        "mobilefacenet",
        "--config",
        str(config),
        "--identities",
        str(subset),
        "--root",
        str(faces_dir),
        "--embeddings-cache",
        str(tmp_path / "cache.npz"),
        "--templates",
        "3",
        "--visit",
        str(VISIT_FRAMES),
    ]
    models = pack_models_dir("mobilefacenet")
    shipped = load_manifest().pack("mobilefacenet").embedder.thresholds
    assert shipped is not None and shipped.fusion_agreement is not None

    door = run_json(common, models)
    rule = door["decision_rule"]
    assert door["gated"] is True and rule["threshold_source"] == "config"
    assert rule["fusion_agreement"] == pytest.approx(shipped.fusion_agreement)
    assert rule["fusion_agreement"] < rule["similarity_threshold"]
    assert rule["small_gallery_threshold"] == pytest.approx(shipped.small_gallery_threshold)
    # Per image, a probe whose face fails the gate is never judged, like one without a face.
    assert door["probe_gate_failed"] > 0  # the subset exercises the gate
    assert _never_judged(door["per_image"]) == door["probe_gate_failed"] + door["probe_no_face"]
    visit = door["per_visit"]
    assert visit["mode"] == "visit" and visit["frames_per_track"] == VISIT_FRAMES
    assert visit["mated_tracks"] == door["mated_probes"]
    assert visit["non_mated_tracks"] == door["non_mated_probes"]
    # Per visit the door keeps looking: only people with no judged photo are never judged.
    assert _never_judged(visit) < _never_judged(door["per_image"])
    assert visit["residents_missed"] == (
        visit["mated_never_judged"] + visit["residents_missed_among_judged"]
    )
    assert door["template_no_face"] == 0  # enrolment only takes photos with a usable face

    ungated = run_json([*common, "--ungated"], models)  # embeddings from the cache
    assert ungated["gated"] is False
    assert ungated["non_mated_probes"] == door["non_mated_probes"]  # the same people and probes
    assert (
        ungated["templates"] + ungated["mated_probes"] == door["templates"] + door["mated_probes"]
    )
    assert _never_judged(ungated["per_image"]) == ungated["probe_no_face"]
    assert _never_judged(ungated["per_visit"]) <= _never_judged(visit)

    # The configured threshold given explicitly replays exactly the same rule and decisions.
    explicit = run_json([*common, "--threshold", repr(rule["similarity_threshold"])], models)
    assert explicit["decision_rule"]["threshold_source"] == "--threshold"
    assert explicit["decision_rule"]["fusion_agreement"] == pytest.approx(shipped.fusion_agreement)
    for key in ("per_image", "per_visit"):
        assert explicit[key] == door[key]
    for key in ("small_gallery_threshold", "small_gallery_identities", "fusion_agreement"):
        assert explicit["decision_rule"][key] == rule[key]
