"""Presentation-attack detection figures (ISO/IEC 30107-3 style) on a liveness manifest.

Per image: the largest detected face goes through the fused MiniFASNet check. APCER is reported per
attack type (an attack with no detectable face is counted as rejected, and listed separately),
BPCER over bona fide images with a face (bona fide images without one are failures to acquire,
reported apart). Besides the given threshold, the tool calibrates the strictest threshold whose
BPCER stays within `BPCER_BUDGET` and reports the APCERs there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.eval import metrics
from gateway.eval.datasets import DatasetError, LivenessSample
from gateway.eval.embeddings import largest_face, load_frame
from gateway.vision.errors import ImageDecodeError, ModelOutputError
from gateway.vision.liveness import LivenessChecker
from gateway.vision.pipeline import FacePipeline

BPCER_BUDGET = 0.05


@dataclass(frozen=True)
class ScoredSample:
    """A sample and its fused liveness score (None: no face found or image unreadable)."""

    sample: LivenessSample
    score: float | None
    note: str = ""


@dataclass(frozen=True)
class LivenessPoint:
    """Error rates at one threshold."""

    threshold: float
    bpcer: float
    apcer: dict[str, float]  # per attack type, plus "all" over every attack

    def to_json(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "bpcer": self.bpcer,
            "apcer": dict(self.apcer),
            "apcer_max": max((v for k, v in self.apcer.items() if k != "all"), default=0.0),
        }


@dataclass(frozen=True)
class LivenessReport:
    """Everything `menwei eval liveness` reports."""

    scored: tuple[ScoredSample, ...]
    configured: LivenessPoint
    calibrated: LivenessPoint
    auc: float

    def counts(self) -> dict[str, dict[str, int]]:
        table: dict[str, dict[str, int]] = defaultdict(lambda: {"samples": 0, "no_face": 0})
        for item in self.scored:
            row = table[item.sample.attack_type]
            row["samples"] += 1
            row["no_face"] += item.score is None
        return dict(sorted(table.items()))

    def to_json(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "samples": len(self.scored),
            "counts": counts,
            "bona_fide_no_face": counts.get("bona_fide", {}).get("no_face", 0),
            "attack_no_face": sum(v["no_face"] for k, v in counts.items() if k != "bona_fide"),
            "configured": self.configured.to_json(),
            "calibrated": {**self.calibrated.to_json(), "bpcer_budget": BPCER_BUDGET},
            "auc": self.auc,
            "scores": [
                {
                    "path": s.sample.path,
                    "attack_type": s.sample.attack_type,
                    "score": s.score,
                    "note": s.note,
                }
                for s in self.scored
            ],
        }


def score_samples(
    checker: LivenessChecker, pipeline: FacePipeline, samples: list[LivenessSample], root: Path
) -> list[ScoredSample]:
    """Fused liveness score of the largest face of every sample."""
    scored = []
    for sample in samples:
        try:
            frame = load_frame(root, sample.path)
            face = largest_face(pipeline.detect(frame))
            if face is None:
                scored.append(ScoredSample(sample, None, "no face detected"))
                continue
            if face.close_up:  # the runtime refuses it (too close) before any liveness check
                scored.append(ScoredSample(sample, None, "face fills the frame: too close"))
                continue
            scored.append(ScoredSample(sample, checker.check(frame, face.box).score))
        except (ImageDecodeError, ModelOutputError) as error:
            scored.append(ScoredSample(sample, None, str(error)))
    return scored


def point_at(scored: list[ScoredSample], threshold: float) -> LivenessPoint:
    """BPCER (bona fide with a face) and APCER per attack type (no face = rejected)."""
    live = [s.score for s in scored if s.sample.live and s.score is not None]
    attacks: dict[str, list[bool]] = defaultdict(list)
    for item in scored:
        if not item.sample.live:
            accepted = item.score is not None and item.score >= threshold
            attacks[item.sample.attack_type].append(accepted)
            attacks["all"].append(accepted)
    apcer = {kind: sum(flags) / len(flags) for kind, flags in sorted(attacks.items())}
    return LivenessPoint(threshold, metrics.rejection_rate(live, threshold), apcer)


def run_liveness(
    pipeline: FacePipeline, samples: list[LivenessSample], root: Path, threshold: float
) -> LivenessReport:
    """Score every sample and report at `threshold` and at the calibrated threshold."""
    checker = pipeline.liveness
    if checker is None:
        raise ValueError("the pipeline has no liveness checker")
    scored = score_samples(checker, pipeline, samples, root)
    live = [s.score for s in scored if s.sample.live and s.score is not None]
    attack = [s.score for s in scored if not s.sample.live and s.score is not None]
    if not live or not attack:
        raise DatasetError("need bona fide and attack samples with a detectable face")
    calibrated = metrics.threshold_at_bpcer(live, BPCER_BUDGET)
    return LivenessReport(
        tuple(scored),
        point_at(scored, threshold),
        point_at(scored, calibrated),
        metrics.auc(live, attack),
    )


def format_liveness(report: LivenessReport) -> str:
    """Human-readable summary."""
    lines = []
    for kind, row in report.counts().items():
        lines.append(
            f"{kind}: {row['samples']} samples, {row['no_face']} without a detectable "
            "face"
            + (
                " (counted as rejected)"
                if kind != "bona_fide"
                else " (failure to acquire, outside BPCER)"
            )
        )
    for name, point in (
        ("configured", report.configured),
        (f"calibrated (BPCER <= {BPCER_BUDGET:.0%})", report.calibrated),
    ):
        apcers = ", ".join(f"{kind} {value:.1%}" for kind, value in point.apcer.items())
        lines.append(
            f"{name} threshold {point.threshold:.4f}: BPCER {point.bpcer:.1%}; APCER {apcers}"
        )
    lines.append(f"AUC (bona fide vs attacks with a face): {report.auc:.4f}")
    return "\n".join(lines)
