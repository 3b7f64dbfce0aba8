"""`menwei eval verify|identify|liveness`: measure the pipeline on labelled photos.

Each command prints a summary, or with --json one JSON object on stdout (the contract other tools
rely on); progress goes to the log on stderr. Exit code 0 on success, 2 on set-up errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway.eval.context import (
    SetupError,
    default_faces_dir,
    load_context,
    require_dir,
    require_file,
)
from gateway.eval.datasets import DatasetError, read_identities, read_liveness_manifest, read_pairs
from gateway.eval.devsets import SET_NAMES, merge_known_aliases


def _emit(data: dict[str, Any], text: str, as_json: bool) -> None:
    if as_json:
        json.dump(data, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print(text)


def _guarded(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            code: int = handler(args)
        except (SetupError, DatasetError) as error:
            print(f"menwei eval: {error}", file=sys.stderr)
            return 2
        return code

    return run


def _verify(args: argparse.Namespace) -> int:
    from gateway.eval.plot import plot_roc
    from gateway.eval.verify import format_verify, run_verify

    pairs = read_pairs(require_file(args.pairs, "pairs CSV"))
    root = require_dir(args.root, "image root")
    context = load_context(args.config)
    report = run_verify(context.pipeline, pairs, root, args.embeddings_cache)
    text = format_verify(report)
    if args.plot is not None:
        scores = report.pair_scores
        plot_roc(
            scores.scores[scores.same],
            scores.scores[~scores.same],
            args.plot,
            f"{report.model_id}: {scores.scores.size} pairs",
        )
        text += f"\nROC written to {args.plot}"
    _emit(report.to_json(), text, args.json)
    return 0


def _identify(args: argparse.Namespace) -> int:
    from gateway.eval.identify import format_identify, run_identify

    faces = default_faces_dir()
    csv_path = args.identities or faces / "lfw" / "identities.csv"
    images, merged = merge_known_aliases(read_identities(require_file(csv_path, "identities CSV")))
    for alias in merged:
        print(f"known alias merged: {alias.describe()}", file=sys.stderr)
    root = require_dir(args.root or faces, "image root")
    context = load_context(args.config, pack=args.pack)
    report = run_identify(
        context,
        images,
        root,
        threshold=args.threshold,
        cache=args.embeddings_cache,
        templates_per_person=args.templates,
        visit_frames=args.visit,
        gated=not args.ungated,
    )
    _emit(report.to_json(), format_identify(report), args.json)
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from gateway.eval.calibrate import run_calibrate
    from gateway.eval.calibrate_report import format_calibrate

    faces = require_dir(args.root or default_faces_dir(), "faces folder")
    context = load_context(args.config, pack=args.pack)
    report = run_calibrate(
        context,
        faces,
        args.sets.split(","),
        margin=args.margin,
        visit_frames=args.visit,
        cache=args.embeddings_cache,
        top=args.top,
        fusion_agreement=args.fusion_agreement,
        gated=not args.ungated,
    )
    _emit(report.to_json(), format_calibrate(report), args.json)
    return 0


def _adapt(args: argparse.Namespace) -> int:
    from gateway.eval.adaptation import format_adaptation, measure_adaptation
    from gateway.eval.embedding_cache import embed_with_cache
    from gateway.eval.identify import split_identities

    faces = default_faces_dir()
    images = read_identities(require_file(args.identities, "identities CSV"))
    root = require_dir(args.root or faces, "image root")
    context = load_context(args.config, pack=args.pack)
    embedded = embed_with_cache(
        context.pipeline, root, [i.path for i in images], args.embeddings_cache
    )
    reports = [
        measure_adaptation(
            split_identities(images, templates),
            embedded.vectors,
            context.pipeline.model_id,
            templates,
            args.shrink,
        )
        for templates in args.templates
    ]
    _emit(
        {"reports": [r.to_json() for r in reports]},
        "\n".join(format_adaptation(r) for r in reports),
        args.json,
    )
    return 0


def _liveness(args: argparse.Namespace) -> int:
    from gateway.eval.liveness import format_liveness, run_liveness

    samples = read_liveness_manifest(require_file(args.manifest, "liveness manifest"))
    root = require_dir(args.root, "image root")
    context = load_context(args.config)
    if context.pipeline.liveness is None:
        raise SetupError("liveness is disabled in the config or the pack has no liveness models")
    threshold = (
        args.threshold if args.threshold is not None else context.config.vision.liveness.threshold
    )
    report = run_liveness(context.pipeline, samples, root, threshold)
    _emit(report.to_json(), format_liveness(report), args.json)
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(subparsers: Any) -> None:
    """Add `eval` and its subcommands to the menwei command tree."""
    parser = subparsers.add_parser("eval", help="measure accuracy on labelled photos")
    commands = parser.add_subparsers(dest="eval_command", metavar="EVAL", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--json", action="store_true", help="one JSON object on stdout")
        sub.add_argument("--config", type=Path, default=None, help="gateway TOML config")

    def cached(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--embeddings-cache",
            type=Path,
            default=None,
            help="reuse/extend embeddings in this .npz (keyed by model and settings)",
        )

    def ungated(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--ungated",
            action="store_true",
            help="score every face (no door quality gate; templates the first photos whatever "
            "their quality), the protocol before the door replay, for comparison",
        )

    verify = commands.add_parser("verify", help="1:1 verification on a pairs CSV (LFW protocol)")
    verify.add_argument("--pairs", type=Path, required=True, help="CSV fold,same,path1,path2")
    verify.add_argument("--root", type=Path, required=True, help="folder the paths are under")
    verify.add_argument("--plot", type=Path, default=None, help="write the ROC to this PNG")
    common(verify)
    cached(verify)
    verify.set_defaults(func=_guarded(_verify))

    identify = commands.add_parser("identify", help="open-set 1:N identification")
    identify.add_argument(
        "--identities",
        type=Path,
        default=None,
        help="CSV path,label (default: $MENWEI_SHARED/faces/lfw/identities.csv)",
    )
    identify.add_argument(
        "--root",
        type=Path,
        default=None,
        help="folder the paths are under (default: $MENWEI_SHARED/faces)",
    )
    identify.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="resident similarity threshold for the decision-rule replay, the rest of the "
        "runtime's rule kept (the pack's fusion agreement and small-gallery threshold) "
        "(default: the configured/calibrated one, else the FPIR 1%% one)",
    )
    identify.add_argument("--pack", default=None, help="model pack (default: the config's)")
    identify.add_argument(
        "--templates",
        type=_positive_int,
        default=1,
        help="gallery templates per enrolled person (the first K photos enrolment accepts, "
        "leaving one probe; with --ungated the first K whatever their quality)",
    )
    identify.add_argument(
        "--visit",
        type=_positive_int,
        default=None,
        metavar="N",
        help="also replay per visit: each track N frames from different images of one person "
        "(never a template), through the runtime's decision rule",
    )
    ungated(identify)
    common(identify)
    cached(identify)
    identify.set_defaults(func=_guarded(_identify))

    calibrate = commands.add_parser(
        "calibrate",
        help="thresholds with zero false grants on every development set, plus a margin",
    )
    calibrate.add_argument("--pack", default=None, help="model pack (default: the config's)")
    calibrate.add_argument(
        "--sets",
        default=",".join(SET_NAMES),
        help=f"comma-separated development sets (default: {','.join(SET_NAMES)})",
    )
    calibrate.add_argument(
        "--root", type=Path, default=None, help="faces folder (default: $MENWEI_SHARED/faces)"
    )
    calibrate.add_argument(
        "--margin",
        type=float,
        default=None,
        help="margin above the zero point (default: estimated by split-half resampling)",
    )
    calibrate.add_argument(
        "--fusion-agreement",
        type=float,
        default=None,
        help="score frames need with each other to be fused into a visit (default: the pack's "
        "fusion_agreement, else the threshold); visits mixing strangers are then measured too",
    )
    calibrate.add_argument(
        "--visit",
        type=_positive_int,
        default=5,
        metavar="N",
        help="frames (different images) per visit in the per-visit replay (default 5)",
    )
    calibrate.add_argument(
        "--top", type=_positive_int, default=10, help="top impostor pairs listed per set"
    )
    ungated(calibrate)
    common(calibrate)
    cached(calibrate)
    calibrate.set_defaults(func=_guarded(_calibrate))

    adapt = commands.add_parser(
        "adapt", help="measure gallery-fitted PCA whitening against plain cosine (1:N)"
    )
    adapt.add_argument("--identities", type=Path, required=True, help="CSV path,label")
    adapt.add_argument("--root", type=Path, default=None, help="folder the paths are under")
    adapt.add_argument("--pack", default=None, help="model pack (default: the config's)")
    adapt.add_argument(
        "--templates",
        type=_positive_int,
        nargs="+",
        default=[1, 3],
        help="templates per enrolled person (several: one report each)",
    )
    adapt.add_argument(
        "--shrink", type=float, default=0.5, help="covariance shrinkage toward isotropic"
    )
    common(adapt)
    cached(adapt)
    adapt.set_defaults(func=_guarded(_adapt))

    liveness = commands.add_parser("liveness", help="presentation-attack detection APCER/BPCER")
    liveness.add_argument(
        "--manifest", type=Path, required=True, help="CSV path,liveness_label,attack_type"
    )
    liveness.add_argument("--root", type=Path, required=True, help="folder the paths are under")
    liveness.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="liveness threshold to report (default: vision.liveness.threshold)",
    )
    common(liveness)
    liveness.set_defaults(func=_guarded(_liveness))
