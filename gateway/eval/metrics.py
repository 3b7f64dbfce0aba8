"""Pure score maths for the evaluation tools: ROC, TAR at FAR, k-fold accuracy, FNIR at FPIR,
APCER/BPCER and AUC. Everything takes plain score arrays; nothing here reads files or runs models.

Conventions: a higher score means "more likely the same person" (or "more likely live"); a pair or
probe is accepted when its score is >= the threshold. Operating points at a target false-accept
rate are conservative: the threshold lets through at most floor(rate * n) impostors, so with too few
impostors to resolve the rate the threshold sits just above the highest impostor score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def as_scores(values: Sequence[float] | npt.ArrayLike) -> FloatArray:
    """A 1-d float64 copy of `values`; refuses NaN (a missing score must be given a value)."""
    array = np.asarray(values, np.float64).reshape(-1)
    if np.isnan(array).any():
        raise ValueError("scores contain NaN")
    return array


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold and the rates it gives on one set of genuine and impostor scores."""

    threshold: float
    false_accepts: int  # impostor scores >= threshold
    impostors: int
    true_accepts: int  # genuine scores >= threshold
    genuines: int

    @property
    def far(self) -> float:
        return self.false_accepts / self.impostors if self.impostors else 0.0

    @property
    def tar(self) -> float:
        return self.true_accepts / self.genuines if self.genuines else 0.0


def threshold_at_far(impostor: npt.ArrayLike, far: float) -> float:
    """Lowest threshold that accepts at most floor(far * n) impostor scores.

    With fewer impostors than 1/far this is just above the highest impostor score (zero false
    accepts), which is the most a set of that size can say about such a rate.
    """
    if not 0.0 <= far <= 1.0:
        raise ValueError("far must be within [0, 1]")
    negatives = np.sort(as_scores(impostor))[::-1]
    if negatives.size == 0:
        raise ValueError("no impostor scores")
    allowed = math.floor(far * negatives.size + 1e-9)
    if allowed >= negatives.size:
        return float(negatives[-1])
    # Strictly above the (allowed+1)-th highest impostor: ties there are all rejected.
    return float(np.nextafter(negatives[allowed], np.inf))


def operating_point(
    genuine: npt.ArrayLike, impostor: npt.ArrayLike, threshold: float
) -> OperatingPoint:
    """Counts of accepted genuine and impostor scores at `threshold`."""
    positives, negatives = as_scores(genuine), as_scores(impostor)
    return OperatingPoint(
        threshold,
        int((negatives >= threshold).sum()),
        int(negatives.size),
        int((positives >= threshold).sum()),
        int(positives.size),
    )


def tar_at_far(genuine: npt.ArrayLike, impostor: npt.ArrayLike, far: float) -> OperatingPoint:
    """The operating point at target FAR `far` (see `threshold_at_far`)."""
    return operating_point(genuine, impostor, threshold_at_far(impostor, far))


def roc_curve(genuine: npt.ArrayLike, impostor: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(FAR, TAR) at every distinct score used as threshold, from (0, 0) to (1, 1)."""
    positives, negatives = as_scores(genuine), as_scores(impostor)
    thresholds = np.unique(np.concatenate([positives, negatives]))[::-1]
    sorted_pos, sorted_neg = np.sort(positives), np.sort(negatives)
    accepted_pos = sorted_pos.size - np.searchsorted(sorted_pos, thresholds, side="left")
    accepted_neg = sorted_neg.size - np.searchsorted(sorted_neg, thresholds, side="left")
    far = np.concatenate([[0.0], accepted_neg / max(sorted_neg.size, 1)])
    tar = np.concatenate([[0.0], accepted_pos / max(sorted_pos.size, 1)])
    return far.astype(np.float64), tar.astype(np.float64)


def accuracy_at(scores: npt.ArrayLike, same: npt.ArrayLike, threshold: float) -> float:
    """Fraction of pairs classified right when score >= threshold means 'same'."""
    values = as_scores(scores)
    labels = np.asarray(same, bool).reshape(-1)
    if values.size == 0:
        raise ValueError("no scores")
    return float(((values >= threshold) == labels).mean())


def best_accuracy_threshold(scores: npt.ArrayLike, same: npt.ArrayLike) -> float:
    """Threshold maximising accuracy; candidates are midpoints between neighbouring distinct
    scores (plus one below and one above all). Ties go to the highest threshold (fail closed)."""
    values = as_scores(scores)
    labels = np.asarray(same, bool).reshape(-1)
    if values.size == 0 or values.size != labels.size:
        raise ValueError("need as many labels as scores, at least one")
    distinct = np.unique(values)
    candidates = np.concatenate(
        [[distinct[0] - 1e-6], (distinct[:-1] + distinct[1:]) / 2, [distinct[-1] + 1e-6]]
    )
    positives, negatives = np.sort(values[labels]), np.sort(values[~labels])
    accepted_pos = positives.size - np.searchsorted(positives, candidates, side="left")
    rejected_neg = np.searchsorted(negatives, candidates, side="left")
    correct = accepted_pos + rejected_neg
    best = np.flatnonzero(correct == correct.max())
    return float(candidates[best[-1]])


@dataclass(frozen=True)
class FoldAccuracy:
    """Cross-validated verification accuracy: per held-out fold, threshold from the others."""

    accuracies: tuple[float, ...]
    thresholds: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        """Population standard deviation over folds (as the LFW protocol reports it)."""
        return float(np.std(self.accuracies))


def kfold_accuracy(
    scores: npt.ArrayLike, same: npt.ArrayLike, folds: npt.ArrayLike
) -> FoldAccuracy:
    """Accuracy on each fold with the threshold chosen on all the other folds."""
    values = as_scores(scores)
    labels = np.asarray(same, bool).reshape(-1)
    fold_ids = np.asarray(folds).reshape(-1)
    distinct = np.unique(fold_ids)
    if distinct.size < 2:
        raise ValueError("need at least two folds")
    accuracies, thresholds = [], []
    for fold in distinct:
        held_out = fold_ids == fold
        threshold = best_accuracy_threshold(values[~held_out], labels[~held_out])
        thresholds.append(threshold)
        accuracies.append(accuracy_at(values[held_out], labels[held_out], threshold))
    return FoldAccuracy(tuple(accuracies), tuple(thresholds))


def auc(positive: npt.ArrayLike, negative: npt.ArrayLike) -> float:
    """Area under the ROC: P(positive score > negative score), ties counting one half."""
    positives, negatives = as_scores(positive), as_scores(negative)
    if positives.size == 0 or negatives.size == 0:
        raise ValueError("need positive and negative scores")
    sorted_neg = np.sort(negatives)
    below = np.searchsorted(sorted_neg, positives, side="left")
    equal = np.searchsorted(sorted_neg, positives, side="right") - below
    return float((below + 0.5 * equal).sum() / (positives.size * negatives.size))


@dataclass(frozen=True)
class OpenSetPoint:
    """Open-set identification at one threshold (rank-1 criteria, ISO/IEC 19795-1 / NIST FRVT)."""

    threshold: float
    fpir: float  # non-mated searches whose top score is >= threshold
    fnir: float  # mated searches whose mate is not returned at rank 1 with score >= threshold
    non_mated: int
    mated: int


def open_set_at(
    mated_scores: npt.ArrayLike,
    mated_correct: npt.ArrayLike,
    non_mated_scores: npt.ArrayLike,
    threshold: float,
) -> OpenSetPoint:
    """FPIR and FNIR at a given threshold.

    mated_scores: top-1 score of each mated search; mated_correct: whether that top-1 is the mate.
    """
    scores = as_scores(mated_scores)
    correct = np.asarray(mated_correct, bool).reshape(-1)
    non_mated = as_scores(non_mated_scores)
    if scores.size != correct.size:
        raise ValueError("mated scores and correctness differ in length")
    hits = correct & (scores >= threshold)
    return OpenSetPoint(
        threshold=threshold,
        fpir=float((non_mated >= threshold).mean()) if non_mated.size else 0.0,
        fnir=float(1.0 - hits.mean()) if scores.size else 0.0,
        non_mated=int(non_mated.size),
        mated=int(scores.size),
    )


def fnir_at_fpir(
    mated_scores: npt.ArrayLike,
    mated_correct: npt.ArrayLike,
    non_mated_scores: npt.ArrayLike,
    fpir: float,
) -> OpenSetPoint:
    """FNIR at the threshold letting through at most floor(fpir * n) non-mated searches."""
    threshold = threshold_at_far(non_mated_scores, fpir)
    return open_set_at(mated_scores, mated_correct, non_mated_scores, threshold)


def threshold_at_bpcer(bona_fide: npt.ArrayLike, bpcer: float) -> float:
    """Highest liveness threshold rejecting at most floor(bpcer * n) bona fide scores (score <
    threshold is rejected): the strictest setting the BPCER budget allows."""
    live = np.sort(as_scores(bona_fide))
    if live.size == 0:
        raise ValueError("no bona fide scores")
    allowed = math.floor(bpcer * live.size + 1e-9)
    if allowed >= live.size:
        return float(np.nextafter(live[-1], np.inf))
    return float(live[allowed])


def rejection_rate(scores: npt.ArrayLike, threshold: float) -> float:
    """Fraction of scores below `threshold` (BPCER for bona fide scores)."""
    values = as_scores(scores)
    return float((values < threshold).mean()) if values.size else 0.0


def acceptance_rate(scores: npt.ArrayLike, threshold: float) -> float:
    """Fraction of scores at or above `threshold` (APCER for attack scores)."""
    values = as_scores(scores)
    return float((values >= threshold).mean()) if values.size else 0.0
