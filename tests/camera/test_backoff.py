"""Exponential backoff: doubles from the minimum, never exceeds the maximum, bounded jitter."""

from __future__ import annotations

import random

import pytest

from gateway.camera.backoff import ExponentialBackoff


def test_delays_double_then_cap_without_jitter() -> None:
    backoff = ExponentialBackoff(0.5, 5.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.delay(10_000) == 5.0


def test_jitter_spreads_delays_within_bounds() -> None:
    backoff = ExponentialBackoff(1.0, 8.0, jitter=0.25, rng=random.Random(7))
    for attempt in range(1, 12):
        base = backoff.base_delay(attempt)
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0.75 * base <= delay <= min(8.0, 1.25 * base) for delay in delays)
        if 1.25 * base < 8.0:
            assert len(set(delays)) > 100  # actually jittered below the cap
    assert max(backoff.delay(20) for _ in range(200)) <= 8.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_s": 0.0, "max_s": 1.0},
        {"min_s": 2.0, "max_s": 1.0},
        {"min_s": 1, "max_s": 2, "jitter": 2},
    ],
)
def test_nonsense_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ExponentialBackoff(**kwargs)
