"""Build a FacePipeline from model files and the vision config: the one place stages are wired.

`PipelineModels` names the files and preprocessing the pipeline needs; `models_from_pack` fills it
from a verified model pack (gateway.modelhub), so nothing here hard-codes a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from gateway.config.model import GatewayConfig, VisionConfig
from gateway.modelhub import ResolvedPack, resolve_pack
from gateway.vision.align import ARCFACE_METHOD, SIMILARITY_METHOD, AlignmentSpec
from gateway.vision.detector import YuNetDetector
from gateway.vision.embedder import EmbedderSpec, FaceEmbedder
from gateway.vision.liveness import LivenessChecker, LivenessModel
from gateway.vision.pipeline import FacePipeline


@dataclass(frozen=True)
class PipelineModels:
    """Verified model files and the preprocessing each needs."""

    detector: Path
    embedder: Path
    embedder_spec: EmbedderSpec
    alignment: AlignmentSpec
    liveness: tuple[LivenessModel, ...]
    similarity_threshold: float
    watchlist_threshold: float
    small_gallery_threshold: float = float("nan")
    fusion_agreement: float = float("nan")  # NaN: frames fuse when they agree at the threshold


def build_pipeline(
    models: PipelineModels, config: VisionConfig, threads: int = 2, *, previous: bool = False
) -> FacePipeline:
    """Load every model once and return the wired pipeline.

    `previous=True` wires the models the way menwei did before issue 16 (sessions untuned,
    liveness then embedding one after the other, no close-up search): the benchmark's reference.
    """
    detector = YuNetDetector(
        models.detector,
        score_threshold=config.detector.score_threshold,
        nms_threshold=config.detector.nms_threshold,
        top_k=config.detector.top_k,
        input_max_side=config.detector.input_max_side,
        close_up_max_side=None if previous else 160,
        threads=threads,
        tuned=not previous,
    )
    embedder = FaceEmbedder(
        models.embedder,
        models.embedder_spec,
        flip_average=config.match.flip_average,
        threads=threads,
        tuned=not previous,
    )
    liveness = (
        LivenessChecker(models.liveness, threads=1, tuned=not previous)
        if config.liveness.enabled and models.liveness
        else None
    )
    return FacePipeline(
        detector, models.alignment, embedder, liveness, config, concurrent=not previous
    )


def effective_thresholds(models: PipelineModels, config: VisionConfig) -> tuple[float, float]:
    """(resident, watch-list) similarity thresholds: configured values, else the calibrated ones."""
    resident = config.match.similarity_threshold or models.similarity_threshold
    watchlist = config.match.watchlist_threshold or models.watchlist_threshold
    if math.isnan(resident) or math.isnan(watchlist):
        raise UncalibratedModelError(
            f"model {models.embedder_spec.model_id!r} has no calibrated threshold in the manifest; "
            "run `menwei eval verify` and set [vision.match] similarity_threshold and "
            "watchlist_threshold"
        )
    return resident, max(watchlist, resident)


class UncalibratedModelError(ValueError):
    """The pack's embedder has no calibrated threshold and the config sets none: fail closed."""


def models_from_pack(resolved: ResolvedPack) -> PipelineModels:
    """Translate a verified pack (paths + manifest preprocessing) into PipelineModels."""
    pack = resolved.pack
    embedder = pack.embedder
    prep = embedder.preprocess
    method = ARCFACE_METHOD if prep.alignment == ARCFACE_METHOD else SIMILARITY_METHOD
    alignment = AlignmentSpec(
        output_size=prep.input_size[0], template=prep.template or (), method=method
    )
    thresholds = embedder.thresholds
    resident = thresholds.similarity_threshold if thresholds else None
    watchlist = thresholds.watchlist_threshold if thresholds else None
    liveness = tuple(
        LivenessModel(resolved.path(entry), entry.preprocess.crop_scale or 1.0)
        for entry in pack.liveness
    )
    return PipelineModels(
        detector=resolved.detector,
        embedder=resolved.embedder,
        embedder_spec=EmbedderSpec(embedder.id, prep.color_order, prep.mean, prep.std),
        alignment=alignment,
        liveness=liveness,
        similarity_threshold=_calibrated(resident),
        watchlist_threshold=_calibrated(watchlist),
        small_gallery_threshold=_calibrated(
            thresholds.small_gallery_threshold if thresholds else None
        ),
        fusion_agreement=_calibrated(thresholds.fusion_agreement if thresholds else None),
    )


def _calibrated(value: float | None) -> float:
    """NaN/None stays NaN: effective_thresholds then demands a configured value."""
    return float("nan") if value is None or math.isnan(value) else float(value)


def load_pipeline(config: GatewayConfig) -> tuple[FacePipeline, PipelineModels]:
    """Resolve and verify the configured pack, then build the pipeline (start-up path)."""
    models = models_from_pack(resolve_pack(config.models))
    return build_pipeline(models, config.vision, threads=config.models.threads), models
