"""Loiterer and tailgating detection."""

from __future__ import annotations

import numpy as np

from gateway.access.loiter import LoiterDetector
from gateway.access.tailgate import TailgateDetector
from gateway.config.access import LoiterConfig, TailgateConfig


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _unit(seed: int, around: np.ndarray | None = None, noise: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vector = rng.normal(size=128) if around is None else around + rng.normal(size=128) * noise
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def test_same_unknown_face_on_three_visits_raises_one_alert() -> None:
    clock = Clock()
    detector = LoiterDetector(LoiterConfig(min_visits=3, same_person_similarity=0.9), clock)
    stranger = _unit(1)
    alerts = []
    for visit, track in enumerate((11, 12, 13, 14)):
        clock.now = visit * 60.0
        alert = detector.observe(track, _unit(100 + visit, stranger, 0.02))
        if alert:
            alerts.append(alert)
    assert len(alerts) == 1 and alerts[0].visits == 3 and alerts[0].track_id == 13


def test_different_strangers_do_not_add_up() -> None:
    clock = Clock()
    detector = LoiterDetector(LoiterConfig(min_visits=3), clock)
    for track in range(10):
        clock.now += 30
        assert detector.observe(track, _unit(track)) is None
    assert len(detector) == 10


def test_long_dwell_alerts_and_gaps_do_not_count() -> None:
    clock = Clock()
    detector = LoiterDetector(LoiterConfig(min_dwell_s=120), clock)
    face = _unit(5)
    alert = None
    for _ in range(200):  # 200 s in 1 s steps, one track
        clock.now += 1.0
        alert = alert or detector.observe(7, face)
    assert alert is not None and alert.dwell_s >= 120 and alert.visits == 1
    other = LoiterDetector(LoiterConfig(min_dwell_s=120, min_visits=50), clock)
    for _ in range(30):  # seen every 10 s: gaps, not dwell
        clock.now += 10.0
        assert other.observe(8, face) is None


def test_memory_is_bounded_in_time_and_size() -> None:
    clock = Clock()
    detector = LoiterDetector(LoiterConfig(window_s=60, max_people=10), clock)
    for track in range(25):
        detector.observe(track, _unit(track))
    assert len(detector) == 10
    clock.now = 1000
    detector.purge(clock.now)
    assert len(detector) == 0


def test_a_granted_track_is_forgotten() -> None:
    clock = Clock()
    detector = LoiterDetector(LoiterConfig(min_visits=2), clock)
    face = _unit(3)
    detector.observe(1, face)
    detector.forget_track(1)
    clock.now = 10
    assert detector.observe(2, face) is None  # starts over: first visit


def test_tailgating_one_alert_per_grant_for_extra_people() -> None:
    clock = Clock()
    detector = TailgateDetector(TailgateConfig(window_s=8), clock)
    detector.on_grant(granted_track=1)
    clock.now = 1
    assert detector.observe(1, door_open=True) is None  # the resident
    clock.now = 2
    alert = detector.observe(2, door_open=True)
    assert alert is not None and alert.extra_people == 1 and alert.granted_track == 1
    assert detector.observe(3, door_open=True) is None  # once per grant
    clock.now = 20
    assert detector.observe(4, door_open=True) is None  # window over


def test_no_tailgate_when_the_door_is_shut_or_nobody_was_granted() -> None:
    clock = Clock()
    detector = TailgateDetector(TailgateConfig(), clock)
    assert detector.observe(5, door_open=True) is None
    detector.on_grant(granted_track=None)  # card
    assert detector.observe(5, door_open=False) is None
