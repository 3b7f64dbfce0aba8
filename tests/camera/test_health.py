"""Tamper detection: covered, frozen, defocused and disconnected each raise after the configured
time and clear (with hysteresis) when fixed; a live static scene is not frozen."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from gateway.camera.capture import CapturedFrame
from gateway.camera.health import CameraHealthMonitor, HealthEvent
from gateway.camera.opencv_source import VideoFileSource
from gateway.config.camera import CameraHealthConfig
from gateway.vision.image_io import BGRImage
from tests.conftest import require_shared

FPS = 5.0
RAISE_S = 5.0
CLEAR_S = 2.0
START = 1000.0


def health_config(**overrides: float) -> CameraHealthConfig:
    values: dict[str, float] = {
        "tamper_after_s": RAISE_S,
        "clear_after_s": CLEAR_S,
        "sample_interval_s": 0.0,
    }
    values.update(overrides)
    return CameraHealthConfig.model_validate(values)


SCENE = np.random.default_rng(0).integers(40, 220, (120, 160), dtype=np.uint8)
SCENE = cv2.cvtColor(cv2.GaussianBlur(SCENE, (3, 3), 0), cv2.COLOR_GRAY2BGR)


def live(noise: float = 2.0, seed: int = 1) -> Iterator[BGRImage]:
    """The sharp door scene with fresh sensor noise in every frame."""
    rng = np.random.default_rng(seed)
    while True:
        noisy = SCENE.astype(np.float32) + rng.normal(0.0, noise, SCENE.shape)
        yield np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def blurred(seed: int = 2) -> Iterator[BGRImage]:
    """The same scene out of focus (still with sensor noise)."""
    soft = cv2.GaussianBlur(SCENE, (0, 0), 6)
    rng = np.random.default_rng(seed)
    while True:
        yield np.clip(soft + rng.normal(0.0, 1.0, soft.shape), 0, 255).astype(np.uint8)


def dark(level: float = 6.0, seed: int = 3) -> Iterator[BGRImage]:
    """A covered lens: nearly black, a little noise."""
    rng = np.random.default_rng(seed)
    while True:
        yield np.clip(rng.normal(level, 1.5, SCENE.shape), 0, 255).astype(np.uint8)


def same(frame: BGRImage) -> Iterator[BGRImage]:
    while True:
        yield frame.copy()


class Feed:
    """Feeds frames to a monitor on a simulated timeline and collects the events."""

    def __init__(self, monitor: CameraHealthMonitor) -> None:
        self.monitor = monitor
        self.now = START
        self.seq = 0
        self.position = 0.0
        self.events: list[HealthEvent] = []

    def frames(
        self, source: Iterator[BGRImage], seconds: float, *, advance_position: bool = True
    ) -> list[HealthEvent]:
        new: list[HealthEvent] = []
        for _ in range(round(seconds * FPS)):
            self.now += 1.0 / FPS
            self.seq += 1
            if advance_position:
                self.position += 1.0
            frame = CapturedFrame(self.seq, self.now, next(source))
            new += self.monitor.observe(frame, self.position)
        self.events += new
        return new

    def silence(self, seconds: float, step: float = 0.1) -> list[HealthEvent]:
        new: list[HealthEvent] = []
        for _ in range(round(seconds / step)):
            self.now += step
            new += self.monitor.check(self.now)
        self.events += new
        return new


@pytest.fixture
def feed() -> Feed:
    return Feed(CameraHealthMonitor(health_config(), clock=lambda: START))


def kinds(events: list[HealthEvent]) -> list[tuple[str, bool]]:
    return [(event.kind, event.active) for event in events]


def test_a_healthy_live_scene_raises_nothing(feed: Feed) -> None:
    assert feed.frames(live(), 60.0) == []
    snapshot = feed.monitor.snapshot(feed.now)
    assert snapshot.healthy and snapshot.frames_measured == 300
    assert snapshot.sharpness_baseline is not None and snapshot.sharpness_baseline > 100
    assert snapshot.frame_difference is not None and snapshot.frame_difference > 0.5


def test_covered_raises_after_the_configured_time_and_clears(feed: Feed) -> None:
    feed.frames(live(), 4.0)
    covered_at = feed.now
    assert feed.frames(dark(), RAISE_S - 0.4) == []  # not yet
    raised = feed.frames(dark(), 0.6)
    assert kinds(raised) == [("covered", True)]
    assert raised[0].since == pytest.approx(covered_at + 1.0 / FPS)
    assert "covered or black" in raised[0].detail
    assert feed.monitor.snapshot(feed.now).active == ("covered",)
    feed.frames(dark(), 20.0)  # a long black period is not also "frozen" or "defocused"
    assert kinds(feed.events) == [("covered", True)]
    assert feed.frames(live(), CLEAR_S - 0.4) == []  # hysteresis in time
    assert kinds(feed.frames(live(), 0.6)) == [("covered", False)]
    assert feed.monitor.snapshot(feed.now).healthy


def test_a_covered_condition_does_not_flap_at_the_threshold(feed: Feed) -> None:
    feed.frames(live(), 1.0)
    feed.frames(dark(6.0), RAISE_S + 1)
    # mean 28 is above black_max_mean (25) but within the relaxed limit (25 x 1.25)
    assert feed.frames(dark(28.0), 10.0) == []
    assert feed.monitor.snapshot(feed.now).active == ("covered",)
    assert kinds(feed.frames(dark(40.0), CLEAR_S + 0.2)) == [("covered", False)]


def test_a_frozen_frame_raises_and_clears(feed: Feed) -> None:
    feed.frames(live(), 4.0)
    stuck = next(live(seed=9))
    frozen_at = feed.now
    assert feed.frames(same(stuck), RAISE_S) == []  # the repeats start with the 2nd frame
    raised = feed.frames(same(stuck), 0.6)
    assert kinds(raised) == [("frozen", True)]
    assert "bit-identical" in raised[0].detail
    assert raised[0].since == pytest.approx(frozen_at + 2.0 / FPS)  # from the first repeat
    assert feed.frames(live(), CLEAR_S - 0.4) == []
    assert kinds(feed.frames(live(), 0.6)) == [("frozen", False)]


def test_a_quiet_static_scene_is_not_frozen_but_a_stuck_decoder_is(feed: Feed) -> None:
    # very little noise: mean difference below the threshold, yet the decoder moves on
    quiet = live(noise=0.25, seed=4)
    assert feed.frames(quiet, 30.0) == []
    difference = feed.monitor.snapshot(feed.now).frame_difference
    assert difference is not None and 0.0 < difference < 0.5
    # the same near-identical frames while the decoder keeps reporting one position
    raised = feed.frames(quiet, RAISE_S + 0.4, advance_position=False)
    assert kinds(raised) == [("frozen", True)]
    assert "decoder position unchanged" in raised[0].detail


def test_defocus_raises_against_the_learned_baseline_and_clears(feed: Feed) -> None:
    feed.frames(live(), 5.0)
    baseline = feed.monitor.snapshot(feed.now).sharpness_baseline
    assert baseline is not None
    blurred_at = feed.now
    assert feed.frames(blurred(), RAISE_S - 0.4) == []
    raised = feed.frames(blurred(), 0.6)
    assert kinds(raised) == [("defocused", True)]
    assert raised[0].since == pytest.approx(blurred_at + 1.0 / FPS)
    assert f"baseline {baseline:.1f}" in raised[0].detail
    feed.frames(blurred(), 30.0)  # the baseline does not follow a defocused lens
    assert feed.monitor.snapshot(feed.now).sharpness_baseline == pytest.approx(baseline, rel=0.05)
    assert kinds(feed.frames(live(), CLEAR_S + 0.2)) == [("defocused", False)]


def test_no_defocus_alarm_before_a_baseline_or_after_a_reset(feed: Feed) -> None:
    assert feed.frames(blurred(), 30.0) == []  # learned blurred: nothing to compare against
    feed.monitor.reset_baseline()
    assert feed.monitor.snapshot(feed.now).sharpness_baseline is None
    feed.frames(live(), 5.0)
    assert kinds(feed.frames(blurred(), RAISE_S + 0.4)) == [("defocused", True)]


def test_disconnection_raises_after_the_gap_and_clears_when_frames_return() -> None:
    feed = Feed(
        CameraHealthMonitor(
            health_config(), clock=lambda: START, context=lambda: "capture reconnecting: refused"
        )
    )
    feed.frames(live(), 2.0)
    last_frame = feed.now
    assert feed.silence(RAISE_S - 0.2) == []
    raised = feed.silence(0.4)
    assert kinds(raised) == [("disconnected", True)]
    assert raised[0].since == pytest.approx(last_frame)
    assert "no frame for 5." in raised[0].detail and "reconnecting: refused" in raised[0].detail
    snapshot = feed.monitor.snapshot(feed.now)
    assert snapshot.active == ("disconnected",)
    assert snapshot.last_frame_age_s == pytest.approx(RAISE_S + 0.2)
    assert feed.frames(live(), CLEAR_S - 0.4) == []
    assert kinds(feed.frames(live(), 0.6)) == [("disconnected", False)]


def test_a_camera_that_never_delivers_is_disconnected() -> None:
    monitor = CameraHealthMonitor(health_config(), clock=lambda: START)
    assert monitor.check(START + RAISE_S - 0.1) == []
    raised = monitor.check(START + RAISE_S)
    assert kinds(raised) == [("disconnected", True)] and "no frame ever" in raised[0].detail
    assert monitor.snapshot(START + RAISE_S).last_frame_age_s is None
    late = CameraHealthMonitor(health_config(), clock=lambda: START)
    late.mark_started(START + 100.0)  # built long before the capture started
    assert late.check(START + 100.0 + RAISE_S - 0.1) == []
    assert kinds(late.check(START + 100.0 + RAISE_S)) == [("disconnected", True)]


def test_sampling_interval_limits_measurements() -> None:
    monitor = CameraHealthMonitor(health_config(sample_interval_s=1.0), clock=lambda: START)
    feed = Feed(monitor)
    feed.frames(live(), 10.0)
    snapshot = monitor.snapshot(feed.now)
    assert snapshot.frames_seen == 50 and snapshot.frames_measured == 10


def test_an_event_sink_failure_does_not_stop_detection() -> None:
    delivered: list[HealthEvent] = []

    def sink(event: HealthEvent) -> None:
        delivered.append(event)
        raise RuntimeError("alert queue full")

    monitor = CameraHealthMonitor(health_config(), on_event=sink, clock=lambda: START)
    feed = Feed(monitor)
    feed.frames(live(), 1.0)
    feed.frames(dark(), RAISE_S + 0.4)
    feed.silence(RAISE_S + 0.2)
    assert kinds(delivered) == [("covered", True), ("disconnected", True)]


@pytest.mark.shared
def test_the_shared_clip_is_not_covered_or_frozen() -> None:
    clip = require_shared("faces", "videos", "short_hamilton_clip.mp4")
    monitor = CameraHealthMonitor(
        health_config(tamper_after_s=2.0, sample_interval_s=0.2), clock=lambda: START
    )
    source = VideoFileSource(clip)
    source.open()
    events: list[HealthEvent] = []
    try:
        for seq in itertools.count(1):
            if seq > 275:
                break
            frame = source.read()
            captured = CapturedFrame(seq, START + seq / 29.97, frame.image)
            events += monitor.observe(captured, frame.position)
    finally:
        source.close()
    assert not [event for event in events if event.kind in ("covered", "frozen")]
    assert monitor.snapshot(START + 275 / 29.97).frames_measured >= 40


def test_a_gap_the_watchdog_missed_is_still_reported_when_frames_return(feed: Feed) -> None:
    feed.frames(live(), 2.0)
    last_frame = feed.now
    feed.now += RAISE_S + 1.0  # no check() ran during the outage
    events = feed.frames(live(), 1.0 / FPS)
    assert kinds(events) == [("disconnected", True)]
    assert events[0].since == pytest.approx(last_frame)
    assert kinds(feed.frames(live(), CLEAR_S + 0.2)) == [("disconnected", False)]
