"""Frame-to-decision recognition: pipeline analysis, gallery search, tracking and the visit rule.

`Recogniser.process(frame)` returns, per detected face, its track, what the galleries said and the
track's current decision (the visit rule of `gateway.vision.decision`: each frame searched, and the
track's live frames of one face fused and searched together). A track is granted at most once
(`FaceResult.newly_granted`), so a person standing at the door does not re-trigger the relay every
frame. Watch-list hits use their own, stricter threshold and never grant anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.config.model import VisionConfig
from gateway.gallery import Gallery, Match
from gateway.vision.analyser import FaceAnalyser
from gateway.vision.decision import (
    Decision,
    DecisionRule,
    FrameEvidence,
    Verdict,
    decide,
    reaches,
)
from gateway.vision.embedder import Vector
from gateway.vision.image_io import BGRImage
from gateway.vision.pipeline import FaceAnalysis
from gateway.vision.tracking import IoUTracker, Track
from gateway.vision.visit_fusion import Search, fused_evidence


@dataclass(frozen=True)
class FaceResult:
    """One face in one frame, with everything the access policy and the alerts need."""

    track_id: int
    analysis: FaceAnalysis
    match: Match | None
    watchlist_match: Match | None
    decision: Decision
    newly_granted: bool


def rule_from_config(
    config: VisionConfig,
    similarity_threshold: float,
    small_gallery_threshold: float = 0.0,
    fusion_agreement: float = math.nan,
) -> DecisionRule:
    """The decision rule; a NaN small-gallery threshold means "none" (the resident one applies),
    a NaN fusion agreement fuses frames that agree at the resident threshold."""
    small = 0.0 if math.isnan(small_gallery_threshold) else small_gallery_threshold
    return DecisionRule(
        similarity_threshold=similarity_threshold,
        min_margin=config.match.min_margin,
        window=config.tracker.window,
        agree=config.tracker.agree,
        small_gallery_threshold=small,
        small_gallery_identities=config.match.small_gallery_identities if small else 0,
        fusion_agreement=fusion_agreement,
    )


class Recogniser:
    """Stateful per-camera recogniser; one instance per camera stream."""

    def __init__(
        self,
        pipeline: FaceAnalyser,
        residents: Gallery,
        watchlist: Gallery | None,
        rule: DecisionRule,
        watchlist_threshold: float,
    ) -> None:
        for gallery in (residents, watchlist):
            if gallery is not None and gallery.model_id != pipeline.model_id:
                raise ValueError(
                    f"gallery model {gallery.model_id!r} differs from the running "
                    f"embedder {pipeline.model_id!r}"
                )
        self.pipeline = pipeline
        self.residents = residents
        self.watchlist = watchlist
        self.rule = rule
        self.watchlist_threshold = watchlist_threshold
        config = pipeline.config
        self.tracker = IoUTracker(
            config.tracker.iou_threshold,
            config.tracker.max_missed_frames,
            history_length=config.tracker.window,
        )
        self.liveness_threshold = config.liveness.threshold

    def process(self, frame: BGRImage) -> list[FaceResult]:
        analyses = self.pipeline.analyse(frame)
        tracks, _ended = self.tracker.update([a.detection.box for a in analyses])
        return [
            self._judge(track, analysis) for track, analysis in zip(tracks, analyses, strict=True)
        ]

    def _judge(self, track: Track, analysis: FaceAnalysis) -> FaceResult:
        match = watch = None
        if analysis.usable and analysis.embedding is not None:
            embedding: Vector = analysis.embedding
            match = self.pipeline.timer.run("search", lambda: self.residents.search(embedding))
            if self.watchlist is not None and len(self.watchlist):
                candidate = self.watchlist.search(embedding)
                if candidate is not None and reaches(candidate.score, self.watchlist_threshold):
                    watch = candidate
        live = (
            None if analysis.liveness is None else analysis.liveness.passed(self.liveness_threshold)
        )
        usable = analysis.usable and analysis.embedding is not None
        track.history.append(
            frame_evidence(match, live if usable else None, analysis.embedding if usable else None)
        )
        decision, newly_granted = judge_track(track, self.rule, self.residents.search)
        return FaceResult(track.track_id, analysis, match, watch, decision, newly_granted)


def frame_evidence(
    match: Match | None, live: bool | None, embedding: Vector | None = None
) -> FrameEvidence:
    """What one frame's gallery search (None: nothing searched), liveness and embedding (None:
    no usable face) tell the track."""
    return FrameEvidence(
        identity=match.identity if match else None,
        score=match.score if match else -1.0,
        margin=match.margin if match else 0.0,
        live=live,
        competitors=match.competitors if match else 0,
        embedding=embedding,
    )


def judge_track(track: Track, rule: DecisionRule, search: Search) -> tuple[Decision, bool]:
    """The track's decision after its latest frame, and whether this frame newly grants it.

    The one place the runtime turns a track's history into a verdict: the per-frame evidence and
    the resident gallery's answer (`search`) for the fused live frames. `menwei eval` replays its
    tracks through this same function. A track grants once; a later grant to someone else is a
    conflict.
    """
    fused = fused_evidence(track.history, rule.window, search, rule.agreement_threshold)
    decision = decide(track.history, rule, fused)
    newly_granted = False
    if decision.verdict is Verdict.GRANT:
        if track.granted_to is None:
            track.granted_to = decision.identity
            newly_granted = True
        elif track.granted_to != decision.identity:
            decision = Decision(Verdict.CONFLICT, reason="track was granted to someone else")
    return decision, newly_granted
