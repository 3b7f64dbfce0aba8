"""`menwei demo`: the gateway's main job on built-in defaults, end to end, on this machine.

It installs the default model pack (from the mirror in MENWEI_MODELS_MIRROR, else the official
URLs), enrols the people found in an enrolment folder (one sub-folder per person), plays a video
through the recogniser, drives the simulated door on every grant and prints each decision as it
happens. Ctrl-C ends it early; a summary is printed either way. The defaults use the shared sample
data: the stage clip of face_recognition's examples and the two enrolment photos that go with it.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from firmware_bridge.backends import create_door_io
from firmware_bridge.door import DoorController
from firmware_bridge.safety import door_session
from gateway.config import ConfigError, GatewayConfig, load_config
from gateway.gallery import Gallery
from gateway.modelhub import load_manifest
from gateway.modelhub.fetch import fetch_pack, mirror_folder
from gateway.vision.decision import Verdict
from gateway.vision.errors import ImageDecodeError
from gateway.vision.factory import effective_thresholds, load_pipeline
from gateway.vision.image_io import read_image
from gateway.vision.pipeline import FacePipeline
from gateway.vision.recogniser import FaceResult, Recogniser, rule_from_config

LOG = logging.getLogger("menwei.demo")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def _shared() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared"
    return Path(os.environ.get("MENWEI_SHARED", default))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run the recognition demo with the simulated door")
    faces = _shared() / "faces"
    parser.add_argument("--config", type=Path, help="TOML config (default: built-in defaults)")
    parser.add_argument(
        "--enrol",
        type=Path,
        default=faces / "face_recognition_examples/images",
        help="folder with one sub-folder of photos per person",
    )
    parser.add_argument(
        "--video",
        default=str(faces / "videos/short_hamilton_clip.mp4"),
        help="video file, image folder, or camera index",
    )
    parser.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0: all)")
    parser.set_defaults(func=run_demo)


@dataclass
class DemoSummary:
    frames: int = 0
    faces: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    grants: list[str] = field(default_factory=list)
    frame_ms: list[float] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"frames {self.frames}, faces {self.faces}, grants {len(self.grants)} "
            f"({', '.join(self.grants) or 'none'})",
            "track verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(self.verdicts.items())),
        ]
        if self.frame_ms:
            p50, p95 = np.percentile(self.frame_ms, [50, 95])
            lines.append(
                f"frame latency p50 {p50:.1f} ms, p95 {p95:.1f} ms "
                f"({1000 / max(p50, 1e-3):.1f} fps at p50)"
            )
        return lines


def ensure_models(config: GatewayConfig) -> None:
    """Install the configured pack into models.dir unless every file is already verified."""
    pack = load_manifest(config.models.manifest).pack(config.models.pack)
    mirror = mirror_folder(None, config.models.mirror)
    config.models.dir.mkdir(parents=True, exist_ok=True)
    for result in fetch_pack(pack, config.models.dir, mirror):
        print(f"model {result.model_id}: {result.action} ({result.origin})")
        if result.action == "failed":
            raise SystemExit(f"cannot install model {result.model_id}: {result.origin}")


def enrol_folder(pipeline: FacePipeline, folder: Path) -> Gallery:
    """One template per usable photo; photos with no or a poor face are reported and skipped."""
    gallery = Gallery(pipeline.model_id, pipeline.embedder.dimension)
    for person_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for photo in sorted(person_dir.iterdir()):
            if photo.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                frame = read_image(photo)
            except ImageDecodeError as error:
                print(f"enrol skip {photo.name}: {error}")
                continue
            analyses = pipeline.analyse(frame, max_faces=1, check_liveness=False)
            if not analyses or not analyses[0].usable or analyses[0].embedding is None:
                reasons = analyses[0].quality.reasons if analyses and analyses[0].quality else []
                print(
                    f"enrol skip {person_dir.name}/{photo.name}: "
                    f"{'no face' if not analyses else [str(r) for r in reasons]}"
                )
                continue
            gallery.add(person_dir.name, analyses[0].embedding, pipeline.model_id)
    print(f"enrolled {len(gallery.identities)} people, {len(gallery)} templates")
    return gallery


def _open_source(source: str) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if not capture.isOpened():
        raise SystemExit(f"cannot open video source {source!r}")
    return capture


def _describe(result: FaceResult) -> str:
    decision = result.decision
    match = result.match
    if match:
        who = f"{match.identity} score {match.score:.3f} margin {match.margin:.3f}"
    else:
        who = f"{decision.identity or '-'}, no usable face this frame"
    live = result.analysis.liveness
    live_text = f" liveness {live.score:.2f}" if live else ""
    return f"track {result.track_id}: {decision.verdict} ({who}{live_text}) {decision.reason}"


def run_demo(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(error)
        return 2
    ensure_models(config)
    pipeline, models = load_pipeline(config)
    resident_threshold, watch_threshold = effective_thresholds(models, config.vision)
    if not args.enrol.is_dir():
        print(f"enrolment folder {args.enrol} not found (set MENWEI_SHARED or pass --enrol)")
        return 2
    gallery = enrol_folder(pipeline, args.enrol)
    recogniser = Recogniser(
        pipeline,
        gallery,
        None,
        rule_from_config(config.vision, resident_threshold),
        watch_threshold,
    )
    summary = DemoSummary()
    last_verdict: dict[int, Verdict] = {}
    capture = _open_source(args.video)
    io = create_door_io(config.door)
    with door_session(io, config.door):
        door = DoorController(io, config.door)
        door.arm()
        try:
            while not args.max_frames or summary.frames < args.max_frames:
                ok, frame = capture.read()
                if not ok:
                    break
                start = time.perf_counter()
                results = recogniser.process(np.asarray(frame, np.uint8))
                summary.frame_ms.append((time.perf_counter() - start) * 1000)
                summary.frames += 1
                summary.faces += len(results)
                for result in results:
                    verdict = result.decision.verdict
                    if last_verdict.get(result.track_id) != verdict:
                        last_verdict[result.track_id] = verdict
                        print(f"frame {summary.frames:4d} {_describe(result)}")
                    if result.newly_granted and result.decision.identity:
                        expires = time.monotonic_ns() + 2_000_000_000
                        door.grant(f"face:{result.decision.identity}", expires)
                        summary.grants.append(result.decision.identity)
                        print(
                            f"frame {summary.frames:4d} DOOR released for "
                            f"{result.decision.identity} (state {door.state})"
                        )
                for notice in door.step(0.0):
                    LOG.debug("door: %s", notice)
        except KeyboardInterrupt:
            print("interrupted")
        finally:
            capture.release()
    summary.verdicts.update(str(v) for v in last_verdict.values())
    for line in summary.lines():
        print(line)
    return 0
