"""Per-frame face analysis: detect -> align -> quality gate -> (liveness || embed).

A face that fails the gate is reported with its reasons and is neither liveness-checked nor
embedded, so it can never contribute to a grant. The faces that pass are liveness-checked on a
worker thread while the embedder runs on the calling one (onnxruntime releases the GIL): the
numbers are the same as running them one after the other (tests/gateway/test_pipeline_concurrency),
only the wall time is shorter. A face whose liveness check fails is marked unusable and keeps no
embedding, exactly as before. A stage that fails on a face (degenerate landmarks,
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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import numpy as np

from gateway.config.model import VisionConfig
from gateway.vision.align import AlignmentError, AlignmentSpec, align_face
from gateway.vision.detector import Detection, YuNetDetector
from gateway.vision.embedder import FaceEmbedder, Vector
from gateway.vision.errors import ModelOutputError
from gateway.vision.image_io import BGRImage
from gateway.vision.liveness import LivenessChecker, LivenessResult
from gateway.vision.quality import QualityReason, QualityReport, assess_quality

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
        *,
        concurrent: bool = True,
    ) -> None:
        self.detector = detector
        self.alignment = alignment
        self.embedder = embedder
        self.liveness = liveness
        self.config = config
        self.timer = StageTimer()
        self.errors: Counter[str] = Counter()  # stage -> faces that stage failed on
        # One worker: liveness of a frame's faces runs beside the embedder, never two frames' worth.
        self._liveness_worker = (
            ThreadPoolExecutor(1, thread_name_prefix="liveness") if concurrent else None
        )

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
            crop = self._gate(frame, analysis)
            if crop is not None:
                crops.append(crop)
                pending.append(analysis)
        if not crops:
            return analyses
        live = check_liveness and self.liveness is not None and self.config.liveness.enabled
        checks = self._start_liveness(frame, pending) if live else None
        try:
            vectors = self.timer.run("embed", lambda: self.embedder.embed(crops))
        except ModelOutputError as error:
            vectors = None
            for analysis in pending:
                self._failed(analysis, "embed", error)
        liveness_errors = self._finish_liveness(pending, checks) if checks is not None else {}
        if vectors is not None:
            for index, (analysis, vector) in enumerate(zip(pending, vectors, strict=True)):
                if index not in liveness_errors:
                    analysis.embedding = vector
        for index, failure in liveness_errors.items():
            self._failed(pending[index], "liveness", failure)
        return analyses

    def _gate(self, frame: BGRImage, analysis: FaceAnalysis) -> BGRImage | None:
        landmarks = analysis.detection.landmarks
        try:
            crop = self.timer.run("align", lambda: align_face(frame, landmarks, self.alignment))
        except AlignmentError as error:
            self._failed(analysis, "align", error)
            return None
        analysis.quality = assess_quality(frame, landmarks, crop, self.config.quality)
        if analysis.detection.close_up:
            analysis.quality.reasons.append(QualityReason.TOO_CLOSE)
        if not analysis.quality.passed:
            return None
        return crop

    def _check_all(
        self, frame: BGRImage, faces: list[FaceAnalysis]
    ) -> list[LivenessResult | ModelOutputError]:
        checker = self.liveness
        assert checker is not None
        results: list[LivenessResult | ModelOutputError] = []
        for analysis in faces:
            try:
                check = partial(checker.check, frame, analysis.detection.box)
                results.append(self.timer.run("liveness", check))
            except ModelOutputError as failure:
                results.append(failure)
        return results

    def _start_liveness(
        self, frame: BGRImage, faces: list[FaceAnalysis]
    ) -> Future[list[LivenessResult | ModelOutputError]]:
        if self._liveness_worker is not None:
            return self._liveness_worker.submit(self._check_all, frame, faces)
        done: Future[list[LivenessResult | ModelOutputError]] = Future()
        done.set_result(self._check_all(frame, faces))  # the previous, sequential order
        return done

    def _finish_liveness(
        self,
        faces: list[FaceAnalysis],
        checks: Future[list[LivenessResult | ModelOutputError]],
    ) -> dict[int, ModelOutputError]:
        """Store each face's liveness; the faces whose check failed, by index."""
        errors: dict[int, ModelOutputError] = {}
        for index, (analysis, result) in enumerate(zip(faces, checks.result(), strict=True)):
            if isinstance(result, ModelOutputError):
                errors[index] = result
            else:
                analysis.liveness = result
        return errors

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
