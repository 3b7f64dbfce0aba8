"""`menwei bench`: latency, frame rate, search scaling, cold start and memory on this machine.

Frames are real LFW photos pasted onto 640x480 canvases (gateway.bench.frames); the models come
from the config (models.dir, or MENWEI__MODELS__DIR). Targets are printed beside the numbers; the
exit code is 0 whether or not they are met (the numbers are the product), 2 on set-up errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from gateway.bench import measure
from gateway.bench.coldstart import ColdStartError, cold_start
from gateway.bench.frames import BenchDataError, compose, usable_photos
from gateway.bench.stats import peak_rss_mib
from gateway.config import GatewayConfig
from gateway.eval.context import EvalContext, SetupError, default_faces_dir, load_context
from gateway.modelhub.manifest import bundled_models_dir
from gateway.vision.factory import PipelineModels, build_pipeline
from gateway.vision.pipeline import FacePipeline

# The detector every reference runs: the official OpenCV Zoo file, fixed 640x640 input.
REFERENCE_DETECTOR = "face_detection_yunet_2023mar.onnx"

# Targets from issue #2: measured value name -> upper limit (ms, s or MiB as the name says).
TARGETS = {
    "one_face_pipeline_p50_ms": 25.0,
    "search_100k_p50_ms": 10.0,
    "cold_start_s": 3.0,
    "rss_with_10k_templates_mib": 400.0,
}


def run_bench(
    context: EvalContext,
    faces_dir: Path,
    sizes: measure.BenchSizes,
    config_path: Path | None,
    vs_opencv: bool,
) -> dict[str, Any]:
    """Every measurement, in an order that keeps the memory figures meaningful."""
    started = time.perf_counter()
    pipeline = context.pipeline
    model_id, dimension = pipeline.model_id, pipeline.embedder.dimension
    photos = usable_photos(pipeline, faces_dir, 6)
    # A few distinct frames, referenced repeatedly: no copies inflate the memory figures.
    single_frames = [compose([photo]) for photo in photos]
    triple_frames = [compose([photos[(i + k) % len(photos)] for k in range(3)]) for i in range(3)]
    singles = [single_frames[i % len(single_frames)] for i in range(sizes.stage_frames)]
    triples = [triple_frames[i % len(triple_frames)] for i in range(sizes.e2e_frames)]
    gallery, rss_10k = measure.resident_memory(model_id, dimension)
    report: dict[str, Any] = {
        "model_id": model_id,
        "quick": sizes is measure.QUICK,
        "frame_size": [640, 480],
        "threads": context.config.models.threads,
        "cpu_count": os.cpu_count(),
        "load_average_1min": _load_average(),
    }
    report.update(measure.stage_latencies(pipeline, singles, gallery))
    report["fps"] = {
        "1_face": measure.frame_rate(pipeline, singles[: sizes.e2e_frames], gallery),
        "3_faces": measure.frame_rate(pipeline, triples, gallery),
    }
    report["rss_with_10k_templates_mib"] = rss_10k
    report["search"] = measure.search_scaling(
        model_id, dimension, sizes.gallery_sizes, sizes.search_probes
    )
    runs = [cold_start(config_path, context.config.models.dir) for _ in range(sizes.cold_starts)]
    median = sorted(runs, key=lambda run: run.total)[len(runs) // 2]
    report["cold_start_s"] = median.total
    report["cold_start_runs_s"] = [run.total for run in runs]
    report["cold_start_phases_s"] = {
        "interpreter": median.interpreter,
        "imports": median.imports,
        "config_and_pipeline": median.build,
    }
    report["vs_previous"] = measure.versus_previous(pipeline, previous_pipeline(context), singles)
    if vs_opencv:
        report["vs_opencv"] = measure.opencv_comparison(
            pipeline,
            bundled_models_dir() / REFERENCE_DETECTOR,
            (singles + triples)[: sizes.opencv_frames],
        )
    report["peak_rss_mib"] = peak_rss_mib()
    report["targets"] = check_targets(report)
    report["load_average_1min_end"] = _load_average()
    report["bench_seconds"] = time.perf_counter() - started
    return report


def previous_pipeline(context: EvalContext) -> FacePipeline:
    """The same pack wired as before issue 16: fixed 640x640 YuNet, untuned sessions, liveness
    then embedding (the reference `vs_previous` is measured against, in the same run)."""
    return previous_wiring(context.models, context.config)


def previous_wiring(models: PipelineModels, config: GatewayConfig) -> FacePipeline:
    """`models` wired the previous way, with the official fixed-size YuNet file."""
    fixed = dataclasses.replace(models, detector=bundled_models_dir() / REFERENCE_DETECTOR)
    return build_pipeline(fixed, config.vision, config.models.threads, previous=True)


def _load_average() -> float | None:
    """1-minute load average now (other work on the machine skews every figure)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def _load_text(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f}"


def check_targets(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    measured = {
        "one_face_pipeline_p50_ms": report["one_face_pipeline"]["p50"],
        "search_100k_p50_ms": report["search"].get("100000", {}).get("p50", float("nan")),
        "cold_start_s": report["cold_start_s"],
        "rss_with_10k_templates_mib": report["rss_with_10k_templates_mib"],
    }
    return {
        name: {"value": measured[name], "limit": limit, "met": measured[name] <= limit}
        for name, limit in TARGETS.items()
    }


def format_bench(report: dict[str, Any]) -> str:
    """Human-readable table."""

    def ms(row: dict[str, float]) -> str:
        return f"p50 {row['p50']:7.2f} ms  p95 {row['p95']:7.2f} ms  (n={row['n']})"

    def verdict(name: str) -> str:
        target = report["targets"][name]
        return f"[target <= {target['limit']:g}: {'met' if target['met'] else 'NOT met'}]"

    lines = [
        f"model {report['model_id']}, {report['threads']} threads, 640x480 frames, "
        f"{report['cpu_count']} CPUs, load average {_load_text(report['load_average_1min'])} "
        f"at start, {_load_text(report['load_average_1min_end'])} at end"
        + (" (quick mode)" if report["quick"] else "")
    ]
    order = [*measure.STAGES, "search"]
    stages = sorted(report["stages"].items(), key=lambda item: order.index(item[0]))
    lines += [f"  {stage:9s} {ms(row)}" for stage, row in stages]
    lines.append(
        f"  one face, whole pipeline {ms(report['one_face_pipeline'])} "
        + verdict("one_face_pipeline_p50_ms")
    )
    lines.append(
        f"frames/s: 1 face {report['fps']['1_face']:.1f}, 3 faces {report['fps']['3_faces']:.1f}"
    )
    for size, row in report["search"].items():
        extra = " " + verdict("search_100k_p50_ms") if size == "100000" else ""
        lines.append(f"1:N search, N={int(size):>7,d}: {ms(row)}{extra}")
    phases = report["cold_start_phases_s"]
    lines.append(
        f"cold start to built pipeline: {report['cold_start_s']:.2f} s "
        f"(interpreter {phases['interpreter']:.2f}, imports {phases['imports']:.2f}, "
        f"config + models {phases['config_and_pipeline']:.2f}) " + verdict("cold_start_s")
    )
    lines.append(
        f"RSS with 10k templates: {report['rss_with_10k_templates_mib']:.0f} MiB "
        + verdict("rss_with_10k_templates_mib")
    )
    lines.append(f"peak RSS: {report['peak_rss_mib']:.0f} MiB")
    versus = report["vs_previous"]
    lines.append(
        "same run, alternating frames: current vs previous pipeline (fixed 640x640 YuNet, "
        "untuned sessions, liveness then embedding)"
    )
    for name in ("one_face_pipeline", *measure.STAGES):
        if name not in versus["ratio_p50"]:
            continue
        ours = versus["current"] if name == "one_face_pipeline" else versus["current"]["stages"]
        theirs = versus["previous"] if name == "one_face_pipeline" else versus["previous"]["stages"]
        lines.append(
            f"  {name:17s} p50 {ours[name]['p50']:7.2f} ms vs {theirs[name]['p50']:7.2f} ms: "
            f"ratio {versus['ratio_p50'][name]:.2f}"
        )
    if "vs_opencv" in report:
        cv = report["vs_opencv"]
        lines.append(f"detect, menwei YuNet decoder: {ms(cv['menwei_detect'])}")
        lines.append(
            f"detect, cv2.FaceDetectorYN {cv['opencv_version']}: {ms(cv['opencv_detect'])}"
        )
        lines.append(
            f"ratio menwei/opencv (p50): {cv['ratio_p50']:.2f}; same face count on "
            f"{cv['same_face_count_frames']}/{cv['frames']} frames"
        )
    lines.append(f"bench took {report['bench_seconds']:.0f} s")
    return "\n".join(lines)


def _bench(args: argparse.Namespace) -> int:
    try:
        faces = args.faces or default_faces_dir()
        if not faces.is_dir():
            raise BenchDataError(
                f"face photos {faces} not found: set MENWEI_SHARED to the shared "
                "data folder or pass --faces"
            )
        context = load_context(args.config)
        sizes = measure.QUICK if args.quick else measure.FULL
        report = run_bench(context, faces, sizes, args.config, args.vs == "opencv")
    except (SetupError, BenchDataError, ColdStartError) as error:
        print(f"menwei bench: {error}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(report, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(format_bench(report))
    return 0


def register(subparsers: Any) -> None:
    """Add `bench` to the menwei command tree."""
    parser = subparsers.add_parser("bench", help="latency, frame rate, search, memory")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--config", type=Path, default=None, help="gateway TOML config")
    parser.add_argument(
        "--vs",
        choices=["opencv"],
        default=None,
        help="also time OpenCV's own YuNet on the same frames",
    )
    parser.add_argument("--quick", action="store_true", help="few repetitions (tests, smoke)")
    parser.add_argument(
        "--faces",
        type=Path,
        default=None,
        help="face photos folder (default: $MENWEI_SHARED/faces)",
    )
    parser.set_defaults(func=_bench)
