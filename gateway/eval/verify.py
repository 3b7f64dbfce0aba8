"""1:1 verification on a pairs CSV (LFW protocol): cosine of the two images' embeddings, k-fold
accuracy with the threshold chosen on the other folds, TAR at fixed FAR over all pairs.

A pair with an image where no face was usable gets `NO_FACE_SCORE` (the lowest cosine), so it is a
non-match at every threshold a real score could set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateway.eval import metrics
from gateway.eval.datasets import VerificationPair
from gateway.eval.embedding_cache import embed_with_cache
from gateway.eval.embeddings import EmbeddedImages
from gateway.vision.pipeline import FacePipeline

NO_FACE_SCORE = -1.0
FAR_TARGETS = (1e-3, 1e-4)


@dataclass(frozen=True)
class PairScores:
    """Cosine score, label and fold of every pair, in CSV order."""

    scores: metrics.FloatArray
    same: metrics.BoolArray
    folds: np.ndarray[Any, np.dtype[np.int64]]
    missing_face_pairs: int


def score_pairs(pairs: list[VerificationPair], embedded: EmbeddedImages) -> PairScores:
    """Cosine per pair; `NO_FACE_SCORE` where either image has no embedding."""
    scores = np.empty(len(pairs), np.float64)
    missing = 0
    for index, pair in enumerate(pairs):
        first = embedded.vectors.get(pair.path1)
        second = embedded.vectors.get(pair.path2)
        if first is None or second is None:
            scores[index] = NO_FACE_SCORE
            missing += 1
        else:
            scores[index] = float(np.dot(first, second))
    same = np.asarray([p.same for p in pairs], bool)
    folds = np.asarray([p.fold for p in pairs], np.int64)
    return PairScores(scores, same, folds, missing)


@dataclass(frozen=True)
class VerifyReport:
    """Everything `menwei eval verify` reports."""

    model_id: str
    pair_scores: PairScores
    folds: metrics.FoldAccuracy
    threshold: float  # best-accuracy threshold on all folds
    at_far: dict[float, metrics.OperatingPoint]
    no_face: int  # images without a usable face
    no_face_examples: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        scores = self.pair_scores
        point3, point4 = self.at_far[1e-3], self.at_far[1e-4]
        return {
            "model_id": self.model_id,
            "pairs": int(scores.scores.size),
            "genuine_pairs": int(scores.same.sum()),
            "impostor_pairs": int((~scores.same).sum()),
            "far_resolution": 1.0 / max(int((~scores.same).sum()), 1),
            "folds": len(self.folds.accuracies),
            "fold_accuracies": list(self.folds.accuracies),
            "fold_thresholds": list(self.folds.thresholds),
            "accuracy_mean": self.folds.mean,
            "accuracy_std": self.folds.std,
            "threshold": self.threshold,
            "tar_at_far_1e-3": point3.tar,
            "tar_at_far_1e-4": point4.tar,
            "threshold_at_far_1e-3": point3.threshold,
            "threshold_at_far_1e-4": point4.threshold,
            "false_accepts_at_far_1e-3": point3.false_accepts,
            "false_accepts_at_far_1e-4": point4.false_accepts,
            "no_face": self.no_face,
            "pairs_with_missing_face": scores.missing_face_pairs,
            "no_face_examples": dict(list(self.no_face_examples.items())[:10]),
        }


def evaluate_scores(
    model_id: str, pair_scores: PairScores, embedded: EmbeddedImages
) -> VerifyReport:
    """Accuracy, thresholds and TAR@FAR from already computed pair scores."""
    genuine = pair_scores.scores[pair_scores.same]
    impostor = pair_scores.scores[~pair_scores.same]
    return VerifyReport(
        model_id=model_id,
        pair_scores=pair_scores,
        folds=metrics.kfold_accuracy(pair_scores.scores, pair_scores.same, pair_scores.folds),
        threshold=metrics.best_accuracy_threshold(pair_scores.scores, pair_scores.same),
        at_far={far: metrics.tar_at_far(genuine, impostor, far) for far in FAR_TARGETS},
        no_face=embedded.no_face,
        no_face_examples=dict(sorted(embedded.failures.items())),
    )


def run_verify(
    pipeline: FacePipeline,
    pairs: list[VerificationPair],
    root: Path,
    cache: Path | None = None,
) -> VerifyReport:
    """Embed every image of `pairs` once, score the pairs, and evaluate."""
    paths = [p for pair in pairs for p in (pair.path1, pair.path2)]
    embedded = embed_with_cache(pipeline, root, paths, cache)
    return evaluate_scores(pipeline.model_id, score_pairs(pairs, embedded), embedded)


def format_verify(report: VerifyReport) -> str:
    """Human-readable summary."""
    data = report.to_json()
    impostors = data["impostor_pairs"]
    lines = [
        f"model {data['model_id']}: {data['pairs']} pairs ({data['genuine_pairs']} genuine, "
        f"{impostors} impostor), {data['folds']} folds",
        f"accuracy {data['accuracy_mean']:.4f} +- {data['accuracy_std']:.4f} "
        f"(per fold: {', '.join(f'{a:.4f}' for a in data['fold_accuracies'])}; "
        "threshold chosen on the other folds)",
        f"best-accuracy threshold on all pairs: {data['threshold']:.4f}",
    ]
    for far, point in report.at_far.items():
        lines.append(
            f"TAR@FAR{far:.0e}: {point.tar:.4f} at threshold {point.threshold:.4f} "
            f"({point.false_accepts} of {point.impostors} impostors accepted)"
        )
    if impostors * 1e-3 < 1:
        lines.append(
            f"note: {impostors} impostor pairs resolve FAR only to "
            f"{data['far_resolution']:.1e}; both TAR@FAR figures are at zero false accepts"
        )
    lines.append(
        f"images without a usable face: {data['no_face']} "
        f"({data['pairs_with_missing_face']} pairs scored as non-matches)"
    )
    return "\n".join(lines)
