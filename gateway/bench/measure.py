"""The benchmark's measurements: per-stage latency, end-to-end frame rate, 1:N search time,
memory with a resident gallery, and two references timed in the same run: OpenCV's own YuNet on
the same frames, and the previous pipeline (fixed 640x640 YuNet, untuned sessions, liveness then
embedding) frame by frame alternating with the current one, so both see the same machine load.

Each function takes what it measures as arguments and returns plain numbers (milliseconds, frames
per second, MiB), so the CLI only sequences and formats them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from gateway.bench.stats import percentiles, rss_mib
from gateway.gallery import Gallery
from gateway.vision.embedder import Vector
from gateway.vision.image_io import BGRImage
from gateway.vision.pipeline import FacePipeline

STAGES = ("detect", "align", "liveness", "embed")


@dataclass(frozen=True)
class BenchSizes:
    """How much work each measurement does (the quick mode shrinks all of it)."""

    stage_frames: int  # single-face frames for the per-stage latencies
    e2e_frames: int  # frames per face count for the frame rate
    search_probes: int  # probes per gallery size
    gallery_sizes: tuple[int, ...]
    cold_starts: int
    opencv_frames: int


FULL = BenchSizes(
    stage_frames=100,
    e2e_frames=40,
    search_probes=300,
    gallery_sizes=(1_000, 10_000, 100_000),
    cold_starts=3,
    opencv_frames=100,
)
QUICK = BenchSizes(
    stage_frames=8,
    e2e_frames=4,
    search_probes=30,
    gallery_sizes=(1_000, 10_000, 100_000),
    cold_starts=1,
    opencv_frames=8,
)
RESIDENT_GALLERY = 10_000


def random_gallery(model_id: str, dimension: int, size: int, seed: int = 0) -> Gallery:
    """A gallery of `size` random unit templates, one identity each."""
    rng = np.random.default_rng(seed)
    templates = rng.standard_normal((size, dimension)).astype(np.float32)
    templates /= np.linalg.norm(templates, axis=1, keepdims=True)
    gallery = Gallery(model_id, dimension)
    gallery.add_many(
        ((f"person-{index:06d}", row) for index, row in enumerate(templates)), model_id
    )
    return gallery


def random_probes(dimension: int, count: int, seed: int = 1) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    probes = rng.standard_normal((count, dimension)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    return probes


def search_latency(gallery: Gallery, probes: npt.NDArray[np.float32]) -> dict[str, float]:
    """p50/p95 of `gallery.search` over the probes (after one warm-up search)."""
    gallery.search(probes[0])
    samples = []
    for probe in probes:
        start = time.perf_counter()
        gallery.search(probe)
        samples.append((time.perf_counter() - start) * 1000.0)
    return percentiles(samples)


def search_scaling(
    model_id: str, dimension: int, sizes: tuple[int, ...], probe_count: int
) -> dict[str, dict[str, float]]:
    """Search latency per gallery size (galleries built and dropped one by one)."""
    probes = random_probes(dimension, probe_count)
    results = {}
    for size in sizes:
        gallery = random_gallery(model_id, dimension, size)
        results[str(size)] = search_latency(gallery, probes)
        del gallery
    return results


def stage_latencies(
    pipeline: FacePipeline, frames: list[BGRImage], gallery: Gallery
) -> dict[str, Any]:
    """Per-stage p50/p95 on single-face frames, the whole per-face pipeline, and search."""
    # keep every sample of this run (the timer keeps only the latest few in service)
    pipeline.timer.keep = max(pipeline.timer.keep, 4 * len(frames))
    pipeline.timer.samples.clear()
    totals: list[float] = []
    embeddings: list[Vector] = []
    for frame in frames:
        start = time.perf_counter()
        analyses = pipeline.analyse(frame)
        totals.append((time.perf_counter() - start) * 1000.0)
        embeddings.extend(a.embedding for a in analyses if a.embedding is not None)
    if not embeddings:
        raise RuntimeError("no face was embedded in the benchmark frames")
    stages = {
        stage: percentiles(pipeline.timer.samples[stage])
        for stage in STAGES
        if pipeline.timer.samples.get(stage)
    }
    stages["search"] = search_latency(gallery, np.stack(embeddings))
    return {"stages": stages, "one_face_pipeline": percentiles(totals)}


def frame_rate(pipeline: FacePipeline, frames: list[BGRImage], gallery: Gallery) -> float:
    """Frames per second for analyse + gallery search of every usable face."""
    start = time.perf_counter()
    for frame in frames:
        for analysis in pipeline.analyse(frame):
            if analysis.embedding is not None:
                gallery.search(analysis.embedding)
    return len(frames) / (time.perf_counter() - start)


def resident_memory(model_id: str, dimension: int) -> tuple[Gallery, float]:
    """A RESIDENT_GALLERY-template gallery kept loaded, and the process RSS with it (MiB)."""
    gallery = random_gallery(model_id, dimension, RESIDENT_GALLERY, seed=2)
    gallery.search(random_probes(dimension, 1)[0])  # build the search matrix
    return gallery, rss_mib()


def versus_previous(
    current: FacePipeline, previous: FacePipeline, frames: list[BGRImage]
) -> dict[str, Any]:
    """Per-face pipeline and per-stage p50 of both pipelines, alternating frame by frame, and the
    ratio current/previous (below 1: faster)."""
    timings: dict[str, list[float]] = {"current": [], "previous": []}
    pipelines = {"current": current, "previous": previous}
    for pipeline in pipelines.values():
        pipeline.analyse(frames[0])  # warm-up
        pipeline.timer.keep = max(pipeline.timer.keep, 4 * len(frames))
        pipeline.timer.samples.clear()
    for index, frame in enumerate(frames):
        order = ("current", "previous") if index % 2 == 0 else ("previous", "current")
        for name in order:
            start = time.perf_counter()
            pipelines[name].analyse(frame)
            timings[name].append((time.perf_counter() - start) * 1000.0)
    report: dict[str, Any] = {}
    for name, pipeline in pipelines.items():
        report[name] = {
            "one_face_pipeline": percentiles(timings[name]),
            "stages": {
                stage: percentiles(pipeline.timer.samples[stage])
                for stage in STAGES
                if pipeline.timer.samples.get(stage)
            },
        }
    report["ratio_p50"] = {
        "one_face_pipeline": report["current"]["one_face_pipeline"]["p50"]
        / report["previous"]["one_face_pipeline"]["p50"],
        **{
            stage: row["p50"] / report["previous"]["stages"][stage]["p50"]
            for stage, row in report["current"]["stages"].items()
            if stage in report["previous"]["stages"]
        },
    }
    return report


def opencv_comparison(
    pipeline: FacePipeline, model_path: Path, frames: list[BGRImage]
) -> dict[str, Any]:
    """Time our detector and cv2.FaceDetectorYN on the same model file and frames, same run."""
    detector = pipeline.detector
    height, width = frames[0].shape[:2]
    opencv = cv2.FaceDetectorYN.create(
        str(model_path),
        "",
        (width, height),
        detector.score_threshold,
        detector.nms_threshold,
        detector.top_k,
    )
    opencv.detect(frames[0])  # warm-up both
    detector.detect(frames[0])
    ours_ms: list[float] = []
    theirs_ms: list[float] = []
    agree = 0
    for frame in frames:
        start = time.perf_counter()
        faces = detector.detect(frame)
        ours_ms.append((time.perf_counter() - start) * 1000.0)
        start = time.perf_counter()
        _, rows = opencv.detect(frame)
        theirs_ms.append((time.perf_counter() - start) * 1000.0)
        agree += len(faces) == (0 if rows is None else len(rows))
    ours, theirs = percentiles(ours_ms), percentiles(theirs_ms)
    return {
        "menwei_detect": ours,
        "opencv_detect": theirs,
        "ratio_p50": ours["p50"] / theirs["p50"],
        "same_face_count_frames": agree,
        "frames": len(frames),
        "opencv_threads": cv2.getNumThreads(),
        "opencv_version": cv2.__version__,
    }
