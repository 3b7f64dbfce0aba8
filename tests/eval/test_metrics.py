"""The pure metric maths: hand-checked cases and properties that must hold for any scores."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.eval import metrics

finite = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False, allow_subnormal=False)
score_lists = st.lists(finite, min_size=1, max_size=60)


def test_threshold_at_far_lets_through_the_allowed_number_of_impostors() -> None:
    impostor = np.arange(1000) / 1000.0  # 0.000 .. 0.999
    threshold = metrics.threshold_at_far(impostor, 1e-2)
    assert (impostor >= threshold).sum() == 10
    assert 0.989 < threshold <= 0.990


def test_threshold_at_far_is_above_every_impostor_when_the_set_is_too_small() -> None:
    impostor = [0.1, 0.5, 0.3]
    threshold = metrics.threshold_at_far(impostor, 1e-3)
    assert threshold > 0.5
    assert metrics.tar_at_far([0.5, 0.6], impostor, 1e-3).tar == 0.5


def test_tied_impostors_at_the_threshold_are_all_rejected() -> None:
    point = metrics.tar_at_far([0.9, 0.7], [0.7, 0.7, 0.1, 0.0], 0.25)
    assert point.false_accepts == 0
    assert point.tar == 0.5


def test_kfold_accuracy_on_a_known_case() -> None:
    scores = [0.9, 0.1, 0.8, 0.2, 0.7, 0.95]
    same = [1, 0, 1, 0, 1, 0]
    folds = [1, 1, 2, 2, 3, 3]
    result = metrics.kfold_accuracy(scores, same, folds)
    # Folds 1 and 2 are separable; fold 3 has an impostor (0.95) above every genuine pair.
    assert result.thresholds[2] == pytest.approx(0.5)
    assert result.accuracies[0] == 1.0 and result.accuracies[1] == 1.0
    assert result.accuracies[2] == 0.5
    assert result.mean == pytest.approx(5 / 6)
    assert result.std == pytest.approx(np.std([1, 1, 0.5]))


def test_kfold_needs_two_folds() -> None:
    with pytest.raises(ValueError):
        metrics.kfold_accuracy([0.1, 0.2], [0, 1], [1, 1])


@given(st.lists(st.tuples(finite, st.booleans(), st.integers(1, 3)), min_size=12, max_size=80))
@settings(max_examples=60, deadline=None)
def test_accuracy_of_perfectly_separable_scores_is_one(rows: list[tuple[float, bool, int]]) -> None:
    # Shift genuine pairs above every impostor: perfectly separable by construction.
    scores = [s / 4 + (2.0 if same else 0.0) for s, same, _ in rows]
    same = [same for _, same, _ in rows]
    folds = [fold for _, _, fold in rows]
    for fold in set(folds):
        training = {label for label, f in zip(same, folds, strict=True) if f != fold}
        assume(training == {True, False})  # a threshold cannot be learnt from one class
    assert metrics.accuracy_at(scores, same, metrics.best_accuracy_threshold(scores, same)) == 1.0
    result = metrics.kfold_accuracy(scores, same, folds)
    assert result.mean == 1.0
    assert result.std == 0.0


@given(score_lists, score_lists)
@settings(max_examples=80, deadline=None)
def test_best_threshold_beats_every_other_candidate(
    genuine: list[float], impostor: list[float]
) -> None:
    scores = genuine + impostor
    same = [True] * len(genuine) + [False] * len(impostor)
    best = metrics.accuracy_at(scores, same, metrics.best_accuracy_threshold(scores, same))
    for candidate in [*scores, 2.0, -2.0]:
        assert metrics.accuracy_at(scores, same, candidate) <= best + 1e-12


@given(score_lists, score_lists, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
@settings(max_examples=100, deadline=None)
def test_tar_at_far_is_monotone_and_far_is_respected(
    genuine: list[float], impostor: list[float], low: float, high: float
) -> None:
    low, high = sorted((low, high))
    at_low = metrics.tar_at_far(genuine, impostor, low)
    at_high = metrics.tar_at_far(genuine, impostor, high)
    assert at_low.tar <= at_high.tar
    assert at_low.far <= low + 1e-12
    assert at_high.far <= high + 1e-12


@given(score_lists, score_lists)
@settings(max_examples=60, deadline=None)
def test_roc_runs_from_origin_to_one_and_never_decreases(
    genuine: list[float], impostor: list[float]
) -> None:
    far, tar = metrics.roc_curve(genuine, impostor)
    assert (far[0], tar[0]) == (0.0, 0.0)
    assert far[-1] == 1.0 and tar[-1] == 1.0
    assert (np.diff(far) >= 0).all() and (np.diff(tar) >= 0).all()


def test_auc_known_values() -> None:
    assert metrics.auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert metrics.auc([0.1], [0.9]) == 0.0
    assert metrics.auc([0.5, 0.9], [0.5, 0.1]) == pytest.approx((0.5 + 1 + 1 + 1) / 4)


@given(score_lists, score_lists)
@settings(max_examples=60, deadline=None)
def test_auc_is_symmetric(positive: list[float], negative: list[float]) -> None:
    assert metrics.auc(positive, negative) + metrics.auc(negative, positive) == pytest.approx(1.0)


def test_fnir_counts_wrong_identities_and_low_scores_as_misses() -> None:
    non_mated = np.linspace(0.0, 0.5, 100)  # FPIR 1% -> threshold just above the 2nd highest
    point = metrics.fnir_at_fpir([0.9, 0.9, 0.3, 0.8], [True, False, True, True], non_mated, 1e-2)
    assert point.fpir == pytest.approx(0.01)
    assert point.fnir == pytest.approx(0.5)  # wrong identity + score below threshold


@given(score_lists, st.floats(0.0, 0.5))
@settings(max_examples=60, deadline=None)
def test_threshold_at_bpcer_is_the_strictest_within_budget(
    live: list[float], budget: float
) -> None:
    threshold = metrics.threshold_at_bpcer(live, budget)
    assert metrics.rejection_rate(live, threshold) <= budget + 1e-12
    stricter = np.nextafter(threshold, np.inf)
    assert metrics.rejection_rate(live, stricter) > budget or stricter > max(live)


def test_nan_scores_are_refused() -> None:
    with pytest.raises(ValueError):
        metrics.auc([float("nan")], [0.1])
