"""Face -> grant on a clip for the current and the previous pipeline, in the same run.

The service run (`clips.play`) cannot swap its pipeline, so this replays a clip through a
Recogniser on a virtual camera clock instead: frame k is available from k / fps; the recogniser
always takes the newest available frame (as the vision loop does: newest-frame-wins), and the
clock advances by the measured wall time of each `process`. Per pass, the time from the first
frame with a detectable face to the frame that newly grants is the "face -> decision" latency
(the service adds the policy commit and the door thread, ~tens of ms: see the service run).
Passes alternate between the two pipelines, so both see the same machine load.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from gateway.bench.clips import Clip, first_face_offsets
from gateway.config import GatewayConfig
from gateway.gallery import Gallery
from gateway.vision.factory import PipelineModels, effective_thresholds
from gateway.vision.image_io import read_image
from gateway.vision.pipeline import FacePipeline
from gateway.vision.recogniser import Recogniser, rule_from_config

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def enrolled_gallery(pipeline: FacePipeline, enrol_dir: Path) -> Gallery:
    """One template per usable face photo, person = folder name (as the demo enrols)."""
    gallery = Gallery(pipeline.model_id, pipeline.embedder.dimension)
    rows = []
    for person in sorted(p for p in enrol_dir.iterdir() if p.is_dir()):
        for photo in sorted(person.iterdir()):
            if photo.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            usable = [a for a in pipeline.analyse(read_image(photo)) if a.usable]
            if len(usable) == 1 and usable[0].embedding is not None:
                rows.append((person.name, usable[0].embedding))
    gallery.add_many(rows, pipeline.model_id)
    return gallery


def replay_pass(recogniser: Recogniser, clip: Clip, face_frame: int) -> float | None:
    """Virtual-clock replay of one pass; ms from the first face frame to the grant (None: none)."""
    clock = 0.0
    last = -1
    while True:
        newest = min(int(clock * clip.fps), len(clip.frames) - 1)
        if newest == last:
            if newest == len(clip.frames) - 1:
                return None
            clock = (newest + 1) / clip.fps  # idle until the next frame arrives
            continue
        last = newest
        start = time.perf_counter()
        results = recogniser.process(clip.frames[newest])
        clock += time.perf_counter() - start
        if any(result.newly_granted for result in results):
            return max(0.0, clock - face_frame / clip.fps) * 1000.0


def versus_previous(
    clip: Clip,
    pipelines: dict[str, FacePipeline],
    models: PipelineModels,
    config: GatewayConfig,
    passes: int,
) -> dict[str, Any]:
    """Face -> decision p50/p95 per pipeline ("current", "previous"), passes alternating."""
    face_frame = first_face_offsets(clip, pipelines["current"].detect)
    resident, watch = effective_thresholds(models, config.vision)
    rule = rule_from_config(
        config.vision, resident, models.small_gallery_threshold, models.fusion_agreement
    )
    galleries = {name: enrolled_gallery(p, clip.enrol_dir) for name, p in pipelines.items()}
    samples: dict[str, list[float]] = {name: [] for name in pipelines}
    granted = {name: 0 for name in pipelines}
    for number in range(passes if face_frame is not None else 0):
        order = list(pipelines) if number % 2 == 0 else list(reversed(pipelines))
        for name in order:
            recogniser = Recogniser(pipelines[name], galleries[name], None, rule, watch)
            assert face_frame is not None
            latency = replay_pass(recogniser, clip, face_frame)
            if latency is not None:
                samples[name].append(latency)
                granted[name] += 1
    report: dict[str, Any] = {"clip": clip.name, "passes": passes, "first_face_frame": face_frame}
    for name, values in samples.items():
        p50, p95 = np.percentile(values, [50, 95]).tolist() if values else (None, None)
        report[name] = {"face_to_decision_ms": {"p50": p50, "p95": p95}, "granted": granted[name]}
    current, previous = report["current"], report["previous"]
    if current["granted"] and previous["granted"]:
        report["ratio_p50"] = (
            current["face_to_decision_ms"]["p50"] / previous["face_to_decision_ms"]["p50"]
        )
    return report
