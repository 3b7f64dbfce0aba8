"""`menwei eval calibrate`: thresholds with zero false grants on every development set, plus a
stated margin, and what they cost residents.

For each set (gateway.eval.devsets): every impostor comparison per image and per visit, its highest
score and the top pairs to look at by eye (gateway.eval.impostors); the split-half excess that
tells how far a zero point moves on new people. The recommended resident threshold is the highest
zero point of all sets, per image or per (fused) visit, plus the margin, rounded up to 0.001. It
does not rely on the margin rule or on the gallery size, so the small-gallery threshold equals it;
the watch-list
threshold (a hit alerts the police) meets the same bar: above every impostor of every set, with
the same margin.

The recommendation is then replayed on every set through the runtime's rule (1 and 3 templates,
per image and per visit): false grants (which must be zero) and residents missed, with counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.eval.context import EvalContext
from gateway.eval.devsets import DevSet, load_dev_set
from gateway.eval.embedding_cache import embed_with_cache
from gateway.eval.embeddings import EmbeddedImages
from gateway.eval.identify import build_gallery, split_identities
from gateway.eval.impostors import ImpostorStats, impostor_stats
from gateway.eval.visits import (
    PER_IMAGE,
    PER_VISIT,
    FrameSearch,
    ReplayFigures,
    format_figures,
    replay,
)
from gateway.vision.recogniser import rule_from_config

TEMPLATE_COUNTS = (1, 3)
EXCESS_QUANTILE = 0.95
MARGIN_STEP = 0.005  # the estimated margin is rounded up to this
MIN_PEOPLE_FOR_MARGIN = 40  # smaller sets give too noisy a split-half estimate on their own


@dataclass(frozen=True)
class SetReport:
    """One development set: its impostors and the replays at the recommended thresholds."""

    dev: DevSet
    no_face: int
    stats: ImpostorStats
    replays: tuple[tuple[int, ReplayFigures], ...]  # (templates per person, figures)

    def to_json(self, threshold: float) -> dict[str, Any]:
        stats = self.stats
        return {
            "set": self.dev.name,
            "images": len(self.dev.images),
            "images_without_face": self.no_face,
            "identities": stats.identities,
            "aliases_merged": [a.describe() for a in self.dev.aliases_applied],
            "per_image": {
                "impostor_comparisons": stats.image_comparisons,
                "highest_impostor": stats.highest_image,
                "top_impostors": [pair.to_json() for pair in stats.top_images],
            },
            "per_visit": {
                "impostor_comparisons": stats.visit_comparisons,
                "highest_impostor": stats.highest_visit,
                "top_impostors": [pair.to_json() for pair in stats.top_visits],
            },
            "split_half_excess": {
                "rounds": int(stats.excess.size),
                "median": stats.excess_quantile(0.5),
                "q95": stats.excess_quantile(EXCESS_QUANTILE),
                "max": float(stats.excess.max()) if stats.excess.size else 0.0,
            },
            "genuine_comparisons": stats.genuine_comparisons,
            "genuine_pairs_at_or_above_threshold": stats.genuine_above(threshold),
            "replays": [
                {"templates": templates, **figures.to_json()} for templates, figures in self.replays
            ],
        }


@dataclass(frozen=True)
class Recommendation:
    """Thresholds and where they come from."""

    zero_point: float  # highest impostor of every set, per image or per fused visit
    zero_set: str
    margin: float
    margin_source: str
    similarity_threshold: float
    small_gallery_threshold: float
    watchlist_threshold: float

    @property
    def thresholds(self) -> tuple[float, float]:
        """(resident, small-gallery), as `rule_from_config` takes them."""
        return self.similarity_threshold, self.small_gallery_threshold

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CalibrationReport:
    model_id: str
    pack: str
    recommendation: Recommendation
    sets: tuple[SetReport, ...]
    visit_frames: int

    @property
    def false_grants(self) -> int:
        return sum(len(f.false_grants) for s in self.sets for _, f in s.replays)

    def to_json(self) -> dict[str, Any]:
        threshold = self.recommendation.similarity_threshold
        return {
            "model_id": self.model_id,
            "pack": self.pack,
            "visit_frames": self.visit_frames,
            "recommended": self.recommendation.to_json(),
            "false_grants_at_recommended": self.false_grants,
            "sets": [s.to_json(threshold) for s in self.sets],
        }


def round_up(value: float, step: float) -> float:
    """`value` rounded up to a multiple of `step` (kept exact in decimal)."""
    digits = max(0, -math.floor(math.log10(step)))
    return round(math.ceil(round(value / step, 9)) * step, digits)


def estimate_margin(sets: list[tuple[DevSet, ImpostorStats]]) -> tuple[float, str]:
    """The largest 95th-percentile split-half excess of the sets with enough people."""
    candidates = [
        (stats.excess_quantile(EXCESS_QUANTILE), dev.name)
        for dev, stats in sets
        if stats.identities >= MIN_PEOPLE_FOR_MARGIN and stats.excess.size
    ]
    if not candidates:
        raise ValueError("no development set is large enough to estimate a margin; give --margin")
    value, name = max(candidates)
    return round_up(max(value, MARGIN_STEP), MARGIN_STEP), (
        f"split-half excess q{EXCESS_QUANTILE:.0%} on {name} ({value:.4f}), rounded up"
    )


def recommend(sets: list[tuple[DevSet, ImpostorStats]], margin: float | None) -> Recommendation:
    """Highest zero point (per image or per visit) + margin (see the module docstring)."""
    zero, zero_set = max(
        (max(stats.highest_image, stats.highest_visit), dev.name) for dev, stats in sets
    )
    if margin is None:
        margin, source = estimate_margin(sets)
    else:
        source = "--margin"
    resident = round_up(zero + margin, 0.001)
    if resident <= zero:  # rounding must never land on the zero point itself
        resident = round(resident + 0.001, 3)
    return Recommendation(
        zero_point=zero,
        zero_set=zero_set,
        margin=margin,
        margin_source=source,
        similarity_threshold=resident,
        small_gallery_threshold=resident,
        watchlist_threshold=resident,
    )


def replay_set(
    context: EvalContext,
    dev: DevSet,
    embedded: EmbeddedImages,
    thresholds: tuple[float, float],
    visit_frames: int,
) -> tuple[tuple[int, ReplayFigures], ...]:
    """Per image and per visit, for 1 and 3 templates, through the runtime's rule at the given
    (resident, small-gallery) thresholds."""
    rule = rule_from_config(context.config.vision, *thresholds)
    pipeline = context.pipeline
    results = []
    for templates in TEMPLATE_COUNTS:
        split = split_identities(list(dev.images), templates)
        gallery, _ = build_gallery(
            pipeline.model_id, pipeline.embedder.dimension, split.templates, embedded
        )
        search = FrameSearch(gallery, embedded.vectors)
        for mode, frames in ((PER_IMAGE, rule.agree), (PER_VISIT, visit_frames)):
            figures = replay(mode, frames, split.mated, split.non_mated, search, rule)
            results.append((templates, figures))
    return tuple(results)


def run_calibrate(
    context: EvalContext,
    faces: Path,
    set_names: list[str],
    *,
    margin: float | None = None,
    visit_frames: int = 5,
    cache: Path | None = None,
    top: int = 10,
) -> CalibrationReport:
    """Embed every set, measure its impostors, recommend thresholds and replay them."""
    devs = [load_dev_set(name, faces) for name in set_names]
    paths = sorted({image.path for dev in devs for image in dev.images})
    embedded = embed_with_cache(context.pipeline, faces, paths, cache)
    agree = context.config.vision.tracker.agree
    measured = [
        (
            dev,
            impostor_stats(dev.images, embedded.vectors, frames=visit_frames, agree=agree, top=top),
        )
        for dev in devs
    ]
    recommendation = recommend(measured, margin)
    sets = tuple(
        SetReport(
            dev,
            sum(image.path in embedded.failures for image in dev.images),
            stats,
            replay_set(context, dev, embedded, recommendation.thresholds, visit_frames),
        )
        for dev, stats in measured
    )
    return CalibrationReport(
        model_id=context.pipeline.model_id,
        pack=context.config.models.pack,
        recommendation=recommendation,
        sets=sets,
        visit_frames=visit_frames,
    )


def format_calibrate(report: CalibrationReport) -> str:
    """Human-readable report: per set the impostors, the top pairs, the replays; then the advice."""
    rec = report.recommendation
    lines = [
        f"model {report.model_id} (pack {report.pack}), visits of {report.visit_frames} frames"
    ]
    for item in report.sets:
        stats = item.stats
        dev = item.dev
        lines.append(
            f"\n[{dev.name}] {len(dev.images)} images, {stats.identities} people "
            f"({item.no_face} images without a usable face)"
            + "".join(f"; alias merged: {a.describe()}" for a in dev.aliases_applied)
        )
        lines.append(
            f"  per image: highest impostor {stats.highest_image:.4f} over "
            f"{stats.image_comparisons:,} impostor comparisons"
        )
        lines.extend(f"    {p.score:.4f}  {p.first}  vs  {p.second}" for p in stats.top_images)
        lines.append(
            f"  per visit: highest impostor {stats.highest_visit:.4f} over "
            f"{stats.visit_comparisons:,} (stranger, resident) pairs"
        )
        lines.extend(
            f"    {p.score:.4f}  stranger {p.first} -> resident {p.second}"
            for p in stats.top_visits[:5]
        )
        if stats.excess.size:
            lines.append(
                f"  split-half excess over {stats.excess.size} rounds: median "
                f"{stats.excess_quantile(0.5):+.4f}, "
                f"q95 {stats.excess_quantile(EXCESS_QUANTILE):+.4f}, "
                f"max {float(stats.excess.max()):+.4f}"
            )
        lines.append(
            f"  genuine image pairs at or above {rec.similarity_threshold:.3f}: "
            f"{stats.genuine_above(rec.similarity_threshold):.1%} of {stats.genuine_comparisons:,}"
        )
        for templates, figures in item.replays:
            lines.append(f"  {templates} template(s), {format_figures(figures)}")
    lines += [
        "",
        f"zero point: {rec.zero_point:.4f} ({rec.zero_set}); margin {rec.margin:.3f} "
        f"({rec.margin_source})",
        f"recommended: similarity_threshold = {rec.similarity_threshold:.3f}, "
        f"small_gallery_threshold = {rec.small_gallery_threshold:.3f}, "
        f"watchlist_threshold = {rec.watchlist_threshold:.3f}",
        f"false grants at the recommended thresholds, all sets and replays: {report.false_grants}",
    ]
    return "\n".join(lines)
