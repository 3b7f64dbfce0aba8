"""Per-frame face analysis: detect -> quality gate -> align -> liveness -> embed.

A face that fails the gate is reported with its reasons and is neither liveness-checked nor
embedded, so it can never contribute to a grant. A stage that fails on a face (degenerate landmarks,
a non-finite or empty model output) marks that face unusable, is counted per stage in
`FacePipeline.errors` and logged (the 1st, 10th, 100th... time). The latest stage latencies are
kept (a bounded ring per stage) for the benchmark.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from gateway.config.model import VisionConfig
from gateway.vision.align import AlignmentError, AlignmentSpec, align_face
from gateway.vision.detector import Detection, YuNetDetector
from gateway.vision.embedder import FaceEmbedder, Vector
from gateway.vision.errors import ModelOutputError
from gateway.vision.image_io import BGRImage
from gateway.vision.liveness import LivenessChecker, LivenessResult
from gateway.vision.quality import QualityReport, assess_quality

T = TypeVar("T")
STAGE_SAMPLES_KEPT = 100  # per stage (the benchmark widens it for its own run)
LOG = logging.getLogger(__name__)


@dataclass
class FaceAnalysis:
    """Everything the pipeline learned about one detected face in one frame."""

    detection: Detection
    quality: QualityReport | None = None
    liveness: LivenessResult | None = None
    embedding: Vector | None = None
    error: str | None = None  # set when a stage failed (bad landmarks, NaN output, ...)

    @property
    def usable(self) -> bool:
        """True when the face passed the gate and was embedded without error."""
        return self.error is None and self.embedding is not None


@dataclass
class StageTimer:
    """Milliseconds spent per stage: the latest `keep` calls of each stage (what the benchmark
    reads), and how many calls each stage had. Bounded however long the gateway runs: at 10 fps
    an unbounded list grew by about 140 MB a day."""

    keep: int = STAGE_SAMPLES_KEPT
    samples: dict[str, deque[float]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def run(self, stage: str, func: Callable[[], T]) -> T:
        start = time.perf_counter()
        try:
            return func()
        finally:
            elapsed_ms = (time.perf_counter() - start) * 1000.0
            ring = self.samples.get(stage)
            if ring is None:
                ring = self.samples[stage] = deque(maxlen=self.keep)
            ring.append(elapsed_ms)
            self.calls[stage] = self.calls.get(stage, 0) + 1


class FacePipeline:
    """Analyses frames with one detector, alignment spec, liveness checker and embedder."""

    def __init__(
        self,
        detector: YuNetDetector,
        alignment: AlignmentSpec,
        embedder: FaceEmbedder,
        liveness: LivenessChecker | None,
        config: VisionConfig,
    ) -> None:
        self.detector = detector
        self.alignment = alignment
        self.embedder = embedder
        self.liveness = liveness
        self.config = config
        self.timer = StageTimer()
        self.errors: Counter[str] = Counter()  # stage -> faces that stage failed on

    def _failed(self, analysis: FaceAnalysis, stage: str, error: Exception) -> None:
        analysis.error = f"{stage}: {error}"
        self.errors[stage] += 1
        count = self.errors[stage]
        if math.log10(count).is_integer():
            LOG.error("%s failed on a face (%d so far): %s", stage, count, error)

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def detect(self, frame: BGRImage) -> list[Detection]:
        return self.timer.run("detect", lambda: self.detector.detect(frame))

    def analyse(
        self, frame: BGRImage, *, max_faces: int | None = None, check_liveness: bool = True
    ) -> list[FaceAnalysis]:
        """Analyse every detected face (largest first, up to `max_faces`)."""
        detections = self.detect(frame)
        detections.sort(key=lambda d: d.box[2] * d.box[3], reverse=True)
        if max_faces is not None:
            detections = detections[:max_faces]
        analyses = [FaceAnalysis(d) for d in detections]
        crops = []
        pending = []
        for analysis in analyses:
            crop = self._gate(frame, analysis, check_liveness)
            if crop is not None:
                crops.append(crop)
                pending.append(analysis)
        if crops:
            try:
                vectors = self.timer.run("embed", lambda: self.embedder.embed(crops))
            except ModelOutputError as error:
                for analysis in pending:
                    self._failed(analysis, "embed", error)
            else:
                for analysis, vector in zip(pending, vectors, strict=True):
                    analysis.embedding = vector
        return analyses

    def _gate(
        self, frame: BGRImage, analysis: FaceAnalysis, check_liveness: bool
    ) -> BGRImage | None:
        landmarks = analysis.detection.landmarks
        try:
            crop = self.timer.run("align", lambda: align_face(frame, landmarks, self.alignment))
        except AlignmentError as error:
            self._failed(analysis, "align", error)
            return None
        analysis.quality = assess_quality(frame, landmarks, crop, self.config.quality)
        if not analysis.quality.passed:
            return None
        if check_liveness and self.liveness is not None and self.config.liveness.enabled:
            checker = self.liveness
            try:
                analysis.liveness = self.timer.run(
                    "liveness", lambda: checker.check(frame, analysis.detection.box)
                )
            except ModelOutputError as error:
                self._failed(analysis, "liveness", error)
                return None
        return crop

    def embed_face(self, frame: BGRImage, detection: Detection) -> Vector:
        """Embedding of one given detection, bypassing the gate (evaluation tools only)."""
        crop = align_face(frame, detection.landmarks, self.alignment)
        return self.embedder.embed_one(crop)


def central_face(detections: list[Detection], width: int, height: int) -> Detection | None:
    """The detection whose box centre is nearest the image centre (LFW protocol)."""
    if not detections:
        return None
    centre = np.array([width / 2, height / 2])

    def distance(d: Detection) -> float:
        x, y, w, h = d.box
        return float(np.linalg.norm(np.array([x + w / 2, y + h / 2]) - centre))

    return min(detections, key=distance)
