"""Camera tamper and health detection: covered/black, frozen, defocused, disconnected.

Each condition is raised only after its evidence has persisted for `tamper_after_s` and clears
only after the evidence has been absent for `clear_after_s`; while raised, its thresholds are
relaxed by `hysteresis` so a value at the limit does not flap. Changes are emitted as
`HealthEvent`s (for alerts) and the current picture is available as a `HealthSnapshot`.

Evidence, per measured frame (see `CameraHealthConfig`):
- covered: mean grey <= black_max_mean and grey std <= black_max_std (a hand, tape, darkness).
- frozen: the frame is bit-identical to the previous measured one, or nearly identical (mean
  difference <= frozen_max_mean_diff) while the decoder reports the same position. A live sensor
  always has some noise, so a static but live scene is not frozen; a compressed stream of a
  static scene is refreshed at least every key frame, well within `tamper_after_s`.
- defocused: variance of the Laplacian < defocus_ratio x the baseline learned from this camera
  (median of its first healthy frames, then a slow average over sharp-enough frames).
- disconnected: no frame at all for `tamper_after_s` (checked between frames by the watchdog).
Covered suppresses frozen and defocused (a black frame is also flat and unchanging); frozen
suppresses defocused. The monitor uses the capture's clock for frame timestamps and its own
(same) clock for `check()`.
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gateway.camera.capture import CapturedFrame
from gateway.camera.health_metrics import FrameMeasurement, GreyImage, analysis_grey, measure
from gateway.camera.source import Clock
from gateway.config.camera import CameraHealthConfig
from gateway.vision.image_io import BGRImage

log = logging.getLogger(__name__)

HealthKind = Literal["covered", "frozen", "defocused", "disconnected"]
HEALTH_KINDS: tuple[HealthKind, ...] = ("covered", "frozen", "defocused", "disconnected")


@dataclass(frozen=True)
class HealthEvent:
    """A condition was raised (`active`) or cleared; `since` is when that became true."""

    kind: HealthKind
    active: bool
    since: float  # monotonic: start of the evidence (raised) or end of it (cleared)
    detail: str


@dataclass(frozen=True)
class ConditionStatus:
    """One condition's current state for the status page."""

    kind: HealthKind
    active: bool
    since: float | None  # when it was raised or last cleared; None if it never changed
    detail: str


@dataclass(frozen=True)
class HealthSnapshot:
    """The camera's health right now."""

    conditions: tuple[ConditionStatus, ...]
    last_frame_age_s: float | None  # None before the first frame
    frames_seen: int
    frames_measured: int
    brightness: float | None
    contrast: float | None
    sharpness: float | None
    sharpness_baseline: float | None  # None while still learning
    frame_difference: float | None

    @property
    def active(self) -> tuple[HealthKind, ...]:
        return tuple(condition.kind for condition in self.conditions if condition.active)

    @property
    def healthy(self) -> bool:
        return not self.active


class _Condition:
    """Persistence and clearing rules for one condition."""

    def __init__(self, kind: HealthKind) -> None:
        self.kind: HealthKind = kind
        self.active = False
        self.since: float | None = None
        self.detail = ""
        self._evidence_since: float | None = None
        self._absent_since: float | None = None

    def update(
        self,
        evidence: bool,
        now: float,
        detail: str,
        *,
        raise_after: float,
        clear_after: float,
        evidence_since: float | None = None,
    ) -> HealthEvent | None:
        self.detail = detail  # the latest measurement, for the status page
        if evidence:
            self._absent_since = None
            if self._evidence_since is None:
                self._evidence_since = now if evidence_since is None else evidence_since
            if not self.active and now - self._evidence_since >= raise_after:
                self.active, self.since = True, self._evidence_since
                return HealthEvent(self.kind, True, self._evidence_since, detail)
            return None
        self._evidence_since = None
        if not self.active:
            return None
        if self._absent_since is None:
            self._absent_since = now
        if now - self._absent_since >= clear_after:
            self.active, self.since = False, self._absent_since
            return HealthEvent(self.kind, False, self._absent_since, detail)
        return None

    def status(self) -> ConditionStatus:
        return ConditionStatus(self.kind, self.active, self.since, self.detail)


EventSink = Callable[[HealthEvent], None]


class CameraHealthMonitor:
    """Turns captured frames (and their absence) into health events; thread-safe.

    Attach `observe` as the capture's frame observer and call `check()` periodically (the
    `HealthWatchdog` does) so a stream that stops delivering is noticed between frames.
    `on_event` is called from whichever thread found the change, in order, with the monitor's
    lock held: it must be quick (hand the event to a queue) and must not block on the camera.
    """

    def __init__(
        self,
        config: CameraHealthConfig,
        *,
        on_event: EventSink | None = None,
        clock: Clock = time.monotonic,
        context: Callable[[], str | None] | None = None,
    ) -> None:
        self.config = config
        self._on_event = on_event
        self._clock = clock
        self._context = context
        self._lock = threading.RLock()  # held while emitting, so sinks see events in order
        self._conditions = {kind: _Condition(kind) for kind in HEALTH_KINDS}
        self._started = clock()
        self._last_frame_at: float | None = None
        self._last_sample_at: float | None = None
        self._previous_image: BGRImage | None = None
        self._previous_grey: GreyImage | None = None
        self._previous_position: float | None = None
        self._last: FrameMeasurement | None = None
        self._frames_seen = 0
        self._frames_measured = 0
        self._baseline: float | None = None
        self._baseline_samples: list[float] = []
        self._baseline_updated = 0.0

    # --- inputs ----------------------------------------------------------------------------

    def observe(self, frame: CapturedFrame, position: float | None = None) -> list[HealthEvent]:
        """Account for a captured frame; measures it if `sample_interval_s` has passed."""
        now = frame.timestamp
        with self._lock:
            self._frames_seen += 1
            events = [self._update_disconnected(now)]  # a gap the watchdog did not see yet
            self._last_frame_at = now
            events.append(self._update_disconnected(now))
            due = self._last_sample_at is None or (
                now - self._last_sample_at >= self.config.sample_interval_s
            )
            if due:
                self._last_sample_at = now
                events += self._measure(frame.image, position, now)
            return self._emit(events)

    def check(self, now: float | None = None) -> list[HealthEvent]:
        """Time-based checks (disconnection, clearing after frames resumed)."""
        now = self._clock() if now is None else now
        with self._lock:
            return self._emit([self._update_disconnected(now)])

    def mark_started(self, now: float | None = None) -> None:
        """Count "no frame ever" from now (call when the capture starts)."""
        with self._lock:
            self._started = self._clock() if now is None else now

    def reset_baseline(self) -> None:
        """Forget the sharpness baseline (after re-aiming or refocusing the camera)."""
        with self._lock:
            self._baseline = None
            self._baseline_samples = []

    # --- outputs ---------------------------------------------------------------------------

    def snapshot(self, now: float | None = None) -> HealthSnapshot:
        now = self._clock() if now is None else now
        with self._lock:
            last = self._last
            age = None if self._last_frame_at is None else max(0.0, now - self._last_frame_at)
            return HealthSnapshot(
                conditions=tuple(self._conditions[kind].status() for kind in HEALTH_KINDS),
                last_frame_age_s=age,
                frames_seen=self._frames_seen,
                frames_measured=self._frames_measured,
                brightness=None if last is None else last.brightness,
                contrast=None if last is None else last.contrast,
                sharpness=None if last is None else last.sharpness,
                sharpness_baseline=self._baseline,
                frame_difference=None if last is None else last.mean_difference,
            )

    # --- evaluation (lock held) ------------------------------------------------------------

    def _update_disconnected(self, now: float) -> HealthEvent | None:
        config = self.config
        last = self._started if self._last_frame_at is None else self._last_frame_at
        gap = now - last
        evidence = gap >= config.tamper_after_s
        if evidence:
            seen = "ever" if self._last_frame_at is None else f"for {gap:.1f} s"
            detail = f"no frame {seen}"
            context = self._context() if self._context is not None else None
            if context:
                detail += f" ({context})"
        else:
            detail = f"last frame {gap:.1f} s ago"
        return self._conditions["disconnected"].update(
            evidence,
            now,
            detail,
            raise_after=config.tamper_after_s,
            clear_after=config.clear_after_s,
            evidence_since=last,
        )

    def _measure(
        self, image: BGRImage, position: float | None, now: float
    ) -> list[HealthEvent | None]:
        grey = analysis_grey(image)
        metrics = measure(
            image,
            grey,
            self._previous_image,
            self._previous_grey,
            position,
            self._previous_position,
        )
        self._previous_image = image.copy()
        self._previous_grey = grey
        self._previous_position = position
        self._last = metrics
        self._frames_measured += 1
        timing = {
            "raise_after": self.config.tamper_after_s,
            "clear_after": self.config.clear_after_s,
        }
        covered, covered_detail = self._covered_evidence(metrics)
        events: list[HealthEvent | None] = [
            self._conditions["covered"].update(covered, now, covered_detail, **timing)
        ]
        if covered:
            return events  # frozen and defocused are held while the view is blocked
        frozen, frozen_detail = self._frozen_evidence(metrics)
        events.append(self._conditions["frozen"].update(frozen, now, frozen_detail, **timing))
        if frozen:
            return events
        defocused, defocus_detail = self._defocus_evidence(metrics, now)
        if defocused is not None:
            events.append(
                self._conditions["defocused"].update(defocused, now, defocus_detail, **timing)
            )
        return events

    def _relax(self, kind: HealthKind) -> float:
        return self.config.hysteresis if self._conditions[kind].active else 1.0

    def _covered_evidence(self, metrics: FrameMeasurement) -> tuple[bool, str]:
        factor = self._relax("covered")
        max_mean = self.config.black_max_mean * factor
        max_std = self.config.black_max_std * factor
        evidence = metrics.brightness <= max_mean and metrics.contrast <= max_std
        detail = (
            f"mean grey {metrics.brightness:.1f} (limit {max_mean:.1f}), "
            f"std {metrics.contrast:.1f} (limit {max_std:.1f})"
        )
        return evidence, ("covered or black: " if evidence else "view clear: ") + detail

    def _frozen_evidence(self, metrics: FrameMeasurement) -> tuple[bool, str]:
        if metrics.mean_difference is None:
            return False, "first frame"
        limit = self.config.frozen_max_mean_diff * self._relax("frozen")
        still = metrics.mean_difference <= limit and metrics.position_unchanged
        evidence = metrics.identical or still
        if metrics.identical:
            reason = "frames bit-identical"
        elif still:
            reason = f"decoder position unchanged, difference {metrics.mean_difference:.2f}"
        else:
            reason = f"difference {metrics.mean_difference:.2f}"
        return evidence, ("frozen: " if evidence else "changing: ") + reason

    def _defocus_evidence(self, metrics: FrameMeasurement, now: float) -> tuple[bool | None, str]:
        """(evidence, detail); evidence None while the baseline is still being learned."""
        config = self.config
        value = metrics.sharpness
        if self._baseline is None:
            self._baseline_samples.append(value)
            if len(self._baseline_samples) < config.defocus_baseline_samples:
                return None, "learning sharpness baseline"
            self._baseline = statistics.median(self._baseline_samples)
            self._baseline_samples = []
            self._baseline_updated = now
            log.info("camera sharpness baseline learned: %.1f", self._baseline)
        baseline = self._baseline
        limit = config.defocus_ratio * baseline * self._relax("defocused")
        if baseline < config.defocus_min_baseline:
            return False, f"scene too flat to judge focus (baseline {baseline:.1f})"
        evidence = value < limit
        if not evidence and not self._conditions["defocused"].active:
            elapsed = max(0.0, now - self._baseline_updated)
            weight = 1.0 - math.exp(-elapsed / config.defocus_baseline_tau_s)
            self._baseline = baseline + weight * (value - baseline)
        self._baseline_updated = now
        detail = f"sharpness {value:.1f} vs limit {limit:.1f} (baseline {baseline:.1f})"
        return evidence, ("defocused: " if evidence else "in focus: ") + detail

    def _emit(self, events: list[HealthEvent | None]) -> list[HealthEvent]:
        changes = [event for event in events if event is not None]
        for event in changes:
            log.log(
                logging.WARNING if event.active else logging.INFO,
                "camera health %s %s: %s",
                event.kind,
                "raised" if event.active else "cleared",
                event.detail,
            )
            if self._on_event is not None:
                try:
                    self._on_event(event)
                except Exception:
                    log.exception("health event sink failed")
        return changes
