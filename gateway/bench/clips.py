"""`menwei bench-access --clips`: what a resident feels, on real clips.

Per clip, the real AccessService (store, models, policy, sim door) plays the clip's frames from a
paced folder camera at the clip's own frame rate, `passes` times with empty frames between passes
(so every pass is a new track). Per pass it reports the time from the first frame in which the
detector finds a face to (a) the face GRANT committed by the policy and (b) the relay released by
the door thread: "face to commit" and "face to relay". The first-face frame is found beforehand by
running the detector on every frame; its wall time is the camera's pacing clock (frame k of a
paced folder is read at t0 + k / fps; t0 is fitted from the frames the vision loop took).

Clips: the walking and walk-and-pause clips of ../shared/faces/videos (everyone in the frame
where most faces are usable is enrolled from that frame), the live/replay video pair of the
liveness set (the person enrolled from a live still; the replay must never be granted), and the
demo's generated clip (needs no shared data).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from firmware_bridge.io import DoorIO
from gateway.bench.scratch import scratch_store
from gateway.config import GatewayConfig, parse_config
from gateway.vision.image_io import BGRImage, read_image

WALKING = ("walking", "videos/face-demographics-walking.from_gif.mp4")
WALK_AND_PAUSE = ("walk-and-pause", "videos/face-demographics-walking-and-pause.from_gif.mp4")
LIVE_VIDEO = "antispoof/videos/lestari15__real.mp4"
REPLAY_VIDEO = "antispoof/videos/lestari15__fake.mp4"
LIVE_STILLS = "antispoof/frames_from_videos/live"
TARGET_FACE_TO_RELAY_P95_MS = 500.0  # issue 16
GAP_FRAMES = 12  # empty frames between passes: every pass starts a new track
MAX_CLIP_FRAMES = 150


@dataclass(frozen=True)
class Clip:
    """Frames to play, at what rate, who is enrolled, and whether a grant is expected."""

    name: str
    frames: list[BGRImage]
    fps: float
    enrol_dir: Path
    expect_grant: bool = True
    unplayable: str = ""  # why no grant can happen on this clip (then it is not played)


@dataclass
class DoorTimes:
    """Monotonic times at which the relay was released (the door thread calls `release`)."""

    released: list[float] = field(default_factory=list)


class TimedDoorIO:
    """A DoorIO that notes when `release` is called and otherwise is the wrapped backend."""

    def __init__(self, inner: DoorIO, times: DoorTimes) -> None:
        self._inner = inner
        self._times = times

    def release(self, duration_ms: int) -> None:
        self._inner.release(duration_ms)
        self._times.released.append(time.monotonic())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def read_video(path: Path, limit: int = MAX_CLIP_FRAMES) -> tuple[list[BGRImage], float]:
    """Up to `limit` frames of a video file and its frame rate."""
    capture = cv2.VideoCapture(str(path))
    fps = float(capture.get(cv2.CAP_PROP_FPS)) or 25.0
    frames: list[BGRImage] = []
    while len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(frame))
    capture.release()
    if not frames:
        raise SystemExit(f"no frames could be read from {path}")
    return frames, fps


def enrol_from_frames(
    frames: list[BGRImage], analyse: Callable[[BGRImage], list[Any]], folder: Path
) -> str:
    """One person per usable face of the frame with the most usable faces (the latest on a tie),
    enrolled from a crop around that face. Returns "" or, when no face passes the quality gate,
    what the gate said (then nobody can be granted on this clip)."""
    best_index, best = -1, list[Any]()
    reasons: Counter[str] = Counter()
    largest_eyes = 0.0
    for index, frame in enumerate(frames):
        analyses = analyse(frame)
        for analysis in analyses:
            largest_eyes = max(largest_eyes, analysis.detection.eye_distance)
            reasons.update(str(r) for r in (analysis.quality.reasons if analysis.quality else []))
        usable = [a for a in analyses if a.usable]
        if usable and len(usable) >= len(best):
            best_index, best = index, usable
    if best_index < 0:
        return (
            f"no face passes the quality gate (largest eye distance {largest_eyes:.1f} px; "
            f"gate reasons {dict(reasons)})"
        )
    frame = frames[best_index]
    height, width = frame.shape[:2]
    for number, analysis in enumerate(best, start=1):
        x, y, w, h = (int(v) for v in analysis.detection.box)
        crop = frame[max(0, y - h) : min(height, y + 2 * h), max(0, x - w) : min(width, x + 2 * w)]
        person = folder / f"person-{number}"
        person.mkdir(parents=True)
        cv2.imwrite(str(person / "enrol.jpg"), crop)
    return ""


def shared_clips(
    faces: Path, analyse: Callable[[BGRImage], list[Any]], workdir: Path
) -> list[Clip]:
    """The clips that need ../shared (an empty list without it)."""
    clips: list[Clip] = []
    for name, relative in (WALKING, WALK_AND_PAUSE):
        if not (faces / relative).is_file():
            continue
        frames, fps = read_video(faces / relative)
        enrol = workdir / name / "enrol"
        unplayable = enrol_from_frames(frames, analyse, enrol)
        clips.append(Clip(name, frames, fps, enrol, unplayable=unplayable))
    stills = sorted((faces / LIVE_STILLS).glob("lestari15__real_*.jpg"))
    if stills and (faces / LIVE_VIDEO).is_file() and (faces / REPLAY_VIDEO).is_file():
        enrol = workdir / "lestari15" / "enrol" / "lestari15"
        enrol.mkdir(parents=True)
        shutil.copy(stills[0], enrol / stills[0].name)
        for name, relative, expect in (
            ("live video", LIVE_VIDEO, True),
            ("replay video", REPLAY_VIDEO, False),
        ):
            frames, fps = read_video(faces / relative)
            clips.append(Clip(name, frames, fps, enrol.parent, expect_grant=expect))
    return clips


def demo_clip(config: GatewayConfig, workdir: Path) -> Clip:
    """The demo's generated clip (installed sample photos) at the demo camera's rate."""
    from gateway.demo import packaged_sample

    enrol, clip_dir = packaged_sample(config, workdir / "demo")
    frames = [read_image(path) for path in sorted(clip_dir.glob("*.jpg"))]
    return Clip("demo clip", frames, config.camera.folder_fps, enrol)


def _write_camera(clip: Clip, passes: int, folder: Path) -> list[tuple[int, int]]:
    """The clip `passes` times with empty frames between; (first, last) 1-based frame number of
    each pass, the same numbers the capture gives its frames (seq)."""
    folder.mkdir(parents=True)
    empty = np.full_like(clip.frames[0], 90)
    spans, number = [], 0
    for _ in range(passes):
        first = number + 1
        for frame in [*clip.frames, *[empty] * GAP_FRAMES]:
            number += 1
            cv2.imwrite(str(folder / f"{number:06d}.png"), frame)
        spans.append((first, number))
    return spans


def first_face_offsets(clip: Clip, detect: Callable[[BGRImage], list[Any]]) -> int | None:
    """Index in the clip of the first frame with a face the gate can judge (not a close-up)."""
    for index, frame in enumerate(clip.frames):
        if any(not face.close_up for face in detect(frame)):
            return index
    return None


def service_config(clip: Clip, camera: Path, workdir: Path, base: Mapping[str, Any]) -> Any:
    workdir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        **base,
        "store": scratch_store(workdir),
        "camera": {"source": str(camera), "kind": "folder", "paced": True, "folder_fps": clip.fps},
        "provisioning": {"enabled": False},
    }
    return parse_config(data)


def play(clip: Clip, passes: int, workdir: Path, base: Mapping[str, Any]) -> dict[str, Any]:
    """Run the service on the clip; per pass, face-to-commit and face-to-relay (ms)."""
    if clip.unplayable:
        return {
            "clip": clip.name,
            "fps": clip.fps,
            "frames": len(clip.frames),
            "expect_grant": clip.expect_grant,
            "not_played": clip.unplayable,
        }
    from firmware_bridge.backends import create_door_io
    from gateway.demo import enrol_folder
    from gateway.runtime.service import AccessService
    from gateway.vision.factory import load_pipeline

    config = service_config(clip, workdir / "camera", workdir, base)
    spans = _write_camera(clip, passes, workdir / "camera")
    pipeline, _ = load_pipeline(config)
    offset = first_face_offsets(clip, pipeline.detect)
    enrol_folder(config, clip.enrol_dir)
    commits: list[float] = []
    lock = threading.Lock()

    def on_decision(decision: Any) -> None:
        if decision.granted and decision.method == "face":
            with lock:
                commits.append(time.monotonic())

    door = DoorTimes()
    io = TimedDoorIO(create_door_io(config.door), door)
    with AccessService(config, door_io=io, on_decision=on_decision) as service:
        assert service.camera is not None and service.vision_loop is not None
        while str(service.camera.status().capture.state) not in ("ended", "failed"):
            time.sleep(0.1)
        time.sleep(1.0)
        seen = list(service.vision_loop.stats.frame_times)
        dropped = service.camera.status().capture.frames_dropped
    return _per_pass(clip, spans, offset, seen, commits, door.released, dropped)


def _per_pass(
    clip: Clip,
    spans: list[tuple[int, int]],
    offset: int | None,
    seen: list[tuple[int, float]],
    commits: list[float],
    released: list[float],
    dropped: int,
) -> dict[str, Any]:
    period = 1.0 / clip.fps
    start = float(np.median([stamp - (seq - 1) * period for seq, stamp in seen])) if seen else 0.0
    to_commit: list[float] = []
    to_relay: list[float] = []
    face_times = (
        [] if offset is None else [start + (first - 1 + offset) * period for first, _ in spans]
    )
    for index, face_at in enumerate(face_times):
        # a grant belongs to the pass whose face appeared last before it (a loaded box may
        # commit after the pass's own frames have played)
        end_at = face_times[index + 1] if index + 1 < len(face_times) else float("inf")
        commit = next((t for t in commits if face_at <= t < end_at), None)
        if commit is None:
            continue
        to_commit.append((commit - face_at) * 1000.0)
        relay = next((t for t in released if t >= commit - 0.05), None)
        if relay is not None:
            to_relay.append((relay - face_at) * 1000.0)
    return {
        "clip": clip.name,
        "fps": clip.fps,
        "frames": len(clip.frames),
        "first_face_frame": offset,
        "passes": len(spans),
        "expect_grant": clip.expect_grant,
        "granted_passes": len(to_commit),
        "face_grants_total": len(commits),
        "face_to_commit_ms": _p50_p95(to_commit),
        "face_to_relay_ms": _p50_p95(to_relay),
        "frames_dropped": dropped,
    }


def _p50_p95(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "n": 0}
    p50, p95 = np.percentile(values, [50, 95]).tolist()
    return {"p50": p50, "p95": p95, "n": len(values)}
