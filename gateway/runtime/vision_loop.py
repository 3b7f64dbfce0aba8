"""The vision thread: newest camera frame -> recogniser -> access policy, alerts and detectors.

It takes only the newest frame (frames that arrive while it is busy are dropped and counted by the
capture), so decisions are never made on stale images. A face grant goes through the policy (which
records it) and then, if granted, to the door thread. Spoof attempts and watch-list hits alert once
per track; unknown faces feed the loiterer detector; faces seen while the door is open feed the
tailgate detector.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from gateway.access.alerts import AlertRecorder
from gateway.access.loiter import LoiterDetector
from gateway.access.policy import AccessDecision, AccessPolicy
from gateway.access.tailgate import TailgateDetector
from gateway.camera.capture import CapturedFrame
from gateway.camera.health import HealthEvent
from gateway.store.base import Severity
from gateway.vision.decision import Verdict
from gateway.vision.image_io import BGRImage
from gateway.vision.recogniser import FaceResult, Recogniser
from gateway.worker import LoopWorker

LOG = logging.getLogger(__name__)
MAX_REMEMBERED_TRACKS = 1024  # first-good-frame times kept for the grant latency figure


class FrameFeed(Protocol):
    def latest(self, after_seq: int = 0, timeout: float | None = None) -> CapturedFrame | None: ...


class DoorGate(Protocol):
    @property
    def door_released_or_open(self) -> bool: ...

    def request_grant(
        self, reason: str, grant_id: str | None, not_after_ns: int | None = None
    ) -> None: ...


@dataclass
class VisionStats:
    frames: int = 0
    faces: int = 0
    latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=2000))
    first_gate_pass_at: dict[int, float] = field(default_factory=dict)
    grant_latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=500))
    # (capture seq, capture timestamp) of the frames taken: `bench-access --clips` fits the
    # camera's pacing clock from them to time "first face in the frame -> relay".
    frame_times: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=4000))
    # What a resident feels: capture time of the track's first frame with a detected face -> the
    # grant committed (the gate-pass figure above starts later, at the first usable frame).
    first_face_at: dict[int, float] = field(default_factory=dict)
    face_to_grant_ms: deque[float] = field(default_factory=lambda: deque(maxlen=500))

    def percentile(self, values: deque[float], q: float) -> float | None:
        return float(np.percentile(list(values), q)) if values else None


class VisionLoop:
    """Runs recognition on the newest frames and acts on the results."""

    def __init__(
        self,
        feed: FrameFeed,
        recogniser: Recogniser,
        policy: AccessPolicy,
        door: DoorGate,
        alerts: AlertRecorder,
        loiter: LoiterDetector,
        tailgate: TailgateDetector,
        on_decision: Callable[[AccessDecision], None] | None = None,
        health_events: queue.SimpleQueue[HealthEvent] | None = None,
    ) -> None:
        self.feed = feed
        self.recogniser = recogniser
        self.policy = policy
        self.door = door
        self.alerts = alerts
        self.loiter = loiter
        self.tailgate = tailgate
        self.on_decision = on_decision
        self.stats = VisionStats()
        self._alerted: deque[tuple[int, str]] = deque(maxlen=512)
        self._worker = LoopWorker("vision-loop", self._step)
        self._last_seq = 0
        self.last_results: tuple[int, BGRImage, list[FaceResult]] | None = None
        self.heartbeat = time.monotonic()
        # Camera health events arrive on the capture's thread with its lock held: they are
        # queued there and turned into alerts here.
        self.health_events: queue.SimpleQueue[HealthEvent] = health_events or queue.SimpleQueue()

    def start(self) -> None:
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._worker.stop(timeout)

    @property
    def running(self) -> bool:
        return self._worker.running

    def _step(self, stopping: threading.Event) -> None:
        self.heartbeat = time.monotonic()
        self._drain_health()
        captured = self.feed.latest(self._last_seq, timeout=0.5)
        if captured is None:
            stopping.wait(0.05)  # an ended or failed source answers at once: do not spin
            return
        self._last_seq = captured.seq
        self.stats.frame_times.append((captured.seq, captured.timestamp))
        try:
            results = self.process(captured.image, captured.timestamp)
            # What the staff page's live view draws: the frame with its own faces.
            self.last_results = (captured.seq, captured.image, results)
        except Exception:  # a bad frame must not kill the loop: count, log, go on
            LOG.exception("frame %d could not be processed", captured.seq)

    def _drain_health(self) -> None:
        while True:
            try:
                event = self.health_events.get_nowait()
            except queue.Empty:
                return
            if event.active:
                self.alerts.raise_(
                    "camera_tamper",
                    Severity.CRITICAL,
                    {"condition": str(event.kind), "detail": event.detail},
                )

    def process(self, frame: BGRImage, captured_at: float | None = None) -> list[FaceResult]:
        start = time.perf_counter()
        results = self.recogniser.process(frame)
        now = time.monotonic()
        first_face = self.stats.first_face_at
        for result in results:
            first_face.setdefault(result.track_id, now if captured_at is None else captured_at)
        while len(first_face) > MAX_REMEMBERED_TRACKS:  # bounded: oldest tracks first
            del first_face[next(iter(first_face))]
        self.stats.frames += 1
        self.stats.faces += len(results)
        for result in results:
            self._act(result, frame, now)
        self.stats.latency_ms.append((time.perf_counter() - start) * 1000.0)
        return results

    def _once(self, track_id: int, kind: str) -> bool:
        key = (track_id, kind)
        if key in self._alerted:
            return False
        self._alerted.append(key)
        return True

    def _act(self, result: FaceResult, frame: BGRImage, now: float) -> None:
        analysis = result.analysis
        track = result.track_id
        if analysis.usable:
            first_seen = self.stats.first_gate_pass_at
            first_seen.setdefault(track, now)
            if len(first_seen) > MAX_REMEMBERED_TRACKS:  # bounded: oldest tracks first
                del first_seen[next(iter(first_seen))]
            if self.tailgate.observe(track, self.door.door_released_or_open) is not None:
                self.alerts.raise_("tailgating", Severity.WARNING, {"track": track}, snapshot=frame)
        verdict = result.decision.verdict
        if result.newly_granted and result.decision.identity is not None:
            decision = self.policy.face(result.decision.identity, result.decision.best_score)
            if decision.granted:
                self.door.request_grant(f"face:{decision.person_id}", decision.event_id)
                self.tailgate.on_grant(track)
                self.loiter.forget_track(track)
                started = self.stats.first_gate_pass_at.pop(track, now)
                committed = time.monotonic()
                self.stats.grant_latency_ms.append((committed - started) * 1000.0)
                face_at = self.stats.first_face_at.pop(track, started)
                self.stats.face_to_grant_ms.append((committed - face_at) * 1000.0)
            self._report(decision)
        elif verdict is Verdict.SPOOF_SUSPECTED and self._once(track, "spoof"):
            score = result.match.score if result.match else None
            self._report(
                self.policy.face_refused(result.decision.identity, "liveness_failed", score)
            )
            self.alerts.raise_(
                "spoof_attempt",
                Severity.CRITICAL,
                {
                    "track": track,
                    "liveness": analysis.liveness.score if analysis.liveness else None,
                },
                snapshot=frame,
            )
        if result.watchlist_match is not None and self._once(track, "watchlist"):
            self.alerts.raise_(
                "watchlist_hit",
                Severity.CRITICAL,
                {
                    "entry": result.watchlist_match.identity,
                    "score": round(result.watchlist_match.score, 4),
                    "track": track,
                },
                snapshot=frame,
            )
        is_stranger = result.match is None or not self.recogniser.rule.is_match_score(
            result.match.score, result.match.margin, result.match.competitors
        )
        if analysis.usable and analysis.embedding is not None and is_stranger:
            alert = self.loiter.observe(track, analysis.embedding)
            if alert is not None:
                self.alerts.raise_(
                    "loiterer",
                    Severity.WARNING,
                    {"visits": alert.visits, "dwell_s": round(alert.dwell_s, 1)},
                    snapshot=frame,
                )

    def _report(self, decision: AccessDecision) -> None:
        if self.on_decision is not None:
            self.on_decision(decision)
