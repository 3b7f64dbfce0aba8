"""`menwei eval calibrate`: thresholds with zero false grants on every development set, plus a
stated margin, and what they cost residents.

For each set (gateway.eval.devsets): every impostor comparison per image and per visit, its highest
score and the top pairs to look at by eye (gateway.eval.impostors); the split-half excess that
tells how far a zero point moves on new people. The recommended resident threshold is the highest
zero point of all sets, per image or per (fused) visit, plus the margin, rounded up to 0.001.

The per-visit zero point is the lower of two upper bounds on a stranger's fused visit: the best
fused visit of their own top images (`gateway.eval.impostors`), and, because the runtime fuses only
frames that score at least the threshold t with each other, the analytic bound: n frames pairwise
>= t, each scoring at most s against a template, fuse to at most s * sqrt(n / (1 + (n - 1) t)),
with s the per-image zero point and n the window. The bound falls as t rises, so the threshold
found from the per-image zero point is raised once if the visits need it and then holds.

A pack may fuse frames that agree at a lower `fusion_agreement` than its threshold (the manifest,
or `--fusion-agreement`). Frames of different people may then agree, so the visits are measured
at that agreement, mixed ones (any strangers' frames) included, and the bound uses it for t.

The threshold does not rely on the margin rule or on the gallery size, so the small-gallery
threshold equals it; the watch-list
threshold (a hit alerts the police) meets the same bar: above every impostor of every set, with
the same margin.

The recommendation is then replayed on every set through the runtime's rule (1 and 3 templates,
per image and per visit): false grants (which must be zero) and residents missed, with counts.

By default the calibration replays the door (`gated`): only faces passing the door's quality gate
are frames (a stranger's face that fails it can never open the door), and templates are the
first photos enrolment accepts (`gateway.eval.identify`). The impostors are measured on those
frames; the highest impostor of every face, gate or not (`--ungated` measures and calibrates on
all of them, the earlier protocol), is printed beside it to show how much rests on the gate.
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
from gateway.eval.identify import IdentifySplit, build_gallery, split_identities
from gateway.eval.impostors import ImpostorStats, highest_impostor, impostor_stats
from gateway.eval.visits import (
    PER_IMAGE,
    PER_VISIT,
    FrameSearch,
    ReplayFigures,
    door_vectors,
    replay,
)
from gateway.vision.recogniser import rule_from_config

TEMPLATE_COUNTS = (1, 3)
EXCESS_QUANTILE = 0.95
MARGIN_STEP = 0.005  # the estimated margin is rounded up to this
MAX_COSINE = 1.0  # a recommendation is capped here (and says so): nothing scores above it
MIN_PEOPLE_FOR_MARGIN = 40  # smaller sets give too noisy a split-half estimate on their own


@dataclass(frozen=True)
class SetReport:
    """One development set: its impostors and the replays at the recommended thresholds."""

    dev: DevSet
    no_face: int
    stats: ImpostorStats
    replays: tuple[tuple[int, ReplayFigures], ...]  # (templates per person, figures)
    gate_failed: int = 0  # images with a face that fails the door's gate
    ungated_highest_image: float = -1.0  # highest impostor over every face, gate or not
    # (K, enrolled people left with fewer templates as enrolment refuses photos, left with none)
    short_of_templates: tuple[tuple[int, int, int], ...] = ()

    def to_json(self, threshold: float) -> dict[str, Any]:
        stats = self.stats
        return {
            "set": self.dev.name,
            "images": len(self.dev.images),
            "images_without_face": self.no_face,
            "images_failing_gate": self.gate_failed,
            "ungated_highest_impostor": self.ungated_highest_image,
            "people_short_of_templates": [
                {"templates": k, "short": short, "none": none}
                for k, short, none in self.short_of_templates
            ],
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
    zero_kind: str  # "image" or "visit": which zero point binds
    zero_set: str
    margin: float
    margin_source: str
    similarity_threshold: float
    small_gallery_threshold: float
    watchlist_threshold: float
    fusion_agreement: float | None = None  # None: frames fuse when they agree at the threshold

    @property
    def agreement(self) -> float:
        """The score frames need with each other to be fused."""
        if self.fusion_agreement is None:
            return self.similarity_threshold
        return self.fusion_agreement

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
    fused_frames: int  # the most frames the runtime fuses (the tracker window)
    gated: bool = True  # the door's quality gate and enrolment check replayed

    @property
    def false_grants(self) -> int:
        return sum(len(f.false_grants) for s in self.sets for _, f in s.replays)

    def to_json(self) -> dict[str, Any]:
        threshold = self.recommendation.similarity_threshold
        return {
            "model_id": self.model_id,
            "pack": self.pack,
            "visit_frames": self.visit_frames,
            "gated": self.gated,
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


def fused_bound(image_zero: float, threshold: float, frames: int) -> float:
    """The highest fused score of `frames` frames pairwise >= `threshold`, each <= `image_zero`."""
    if image_zero <= 0:
        return image_zero
    return image_zero * math.sqrt(frames / (1 + (frames - 1) * threshold))


def visit_zero(stats: ImpostorStats, agreement: float, frames: int) -> float:
    """The per-visit zero point of one set for a runtime fusing frames that agree at `agreement`
    (measured at that agreement: one stranger's visits and mixed ones)."""
    measured = max(stats.highest_visit, stats.highest_mixed_visit)
    return min(measured, fused_bound(stats.highest_image, agreement, frames))


def zero_points(
    sets: list[tuple[DevSet, ImpostorStats]], agreement: float, frames: int
) -> tuple[float, str, str]:
    """(highest zero point, its set, "image" or "visit") for a runtime fusing frames that agree
    at `agreement`."""
    candidates = []
    for dev, stats in sets:
        candidates.append((stats.highest_image, dev.name, "image"))
        candidates.append((visit_zero(stats, agreement, frames), dev.name, "visit"))
    return max(candidates)


def recommend(
    sets: list[tuple[DevSet, ImpostorStats]],
    margin: float | None,
    fused_frames: int = 5,
    fusion_agreement: float | None = None,
) -> Recommendation:
    """Highest zero point (per image or per visit) + margin (see the module docstring);
    `fused_frames` is the most frames the runtime fuses (the tracker window), `fusion_agreement`
    the score frames need with each other to be fused (None: the threshold itself)."""
    if margin is None:
        margin, source = estimate_margin(sets)
    else:
        source = "--margin"

    def above(zero: float) -> float:
        threshold = round_up(zero + margin, 0.001)
        threshold = threshold if threshold > zero else round(threshold + 0.001, 3)
        return min(threshold, MAX_COSINE)  # above it: no threshold keeps the margin

    def agreement(threshold: float) -> float:
        return threshold if fusion_agreement is None else fusion_agreement

    image_zero = max(stats.highest_image for _, stats in sets)
    resident = above(image_zero)
    zero, zero_set, kind = zero_points(sets, agreement(resident), fused_frames)
    resident = max(resident, above(zero))  # the bound only falls as the threshold rises
    zero, zero_set, kind = zero_points(sets, agreement(resident), fused_frames)
    if above(zero) > resident:
        raise AssertionError("per-visit bound did not settle")  # cannot happen: see docstring
    if zero + margin > MAX_COSINE:
        source += (
            f"; zero point + margin = {zero + margin:.4f} exceeds {MAX_COSINE}: no cosine "
            "threshold keeps this margin, so this pack should not grant by face alone"
        )
    return Recommendation(
        zero_point=zero,
        zero_kind=kind,
        zero_set=zero_set,
        margin=margin,
        margin_source=source,
        similarity_threshold=resident,
        small_gallery_threshold=resident,
        watchlist_threshold=resident,
        fusion_agreement=fusion_agreement,
    )


def replay_set(
    context: EvalContext,
    dev: DevSet,
    embedded: EmbeddedImages,
    thresholds: tuple[float, float],
    visit_frames: int,
    fusion_agreement: float | None = None,
    gated: bool = True,
) -> tuple[tuple[int, ReplayFigures], ...]:
    """Per image and per visit, for 1 and 3 templates, through the runtime's rule at the given
    (resident, small-gallery) thresholds and fusion agreement (None: the pack's); `gated`
    replays the door's quality gate and enrolment check."""
    agreement = context.models.fusion_agreement if fusion_agreement is None else fusion_agreement
    rule = rule_from_config(context.config.vision, *thresholds, agreement)
    pipeline = context.pipeline
    door_frames = door_vectors(embedded, gated)
    results = []
    for templates in TEMPLATE_COUNTS:
        split = door_split(dev, embedded, templates, gated)
        gallery, _ = build_gallery(
            pipeline.model_id, pipeline.embedder.dimension, split.templates, embedded
        )
        search = FrameSearch(gallery, door_frames)
        for mode, frames in ((PER_IMAGE, rule.agree), (PER_VISIT, visit_frames)):
            figures = replay(mode, frames, split.mated, split.non_mated, search, rule, gated)
            results.append((templates, figures))
    return tuple(results)


def door_split(dev: DevSet, embedded: EmbeddedImages, templates: int, gated: bool) -> IdentifySplit:
    """The identify split of `dev`, templates chosen by enrolment's photo check when `gated`."""
    accept = embedded.enrolment_photo if gated else None
    return split_identities(list(dev.images), templates, accept)


def shortfall(
    dev: DevSet, embedded: EmbeddedImages, gated: bool
) -> tuple[tuple[int, int, int], ...]:
    """Per template count K: (K, enrolled people whose refused photos cost them templates, those
    left with none)."""
    result = []
    for templates in TEMPLATE_COUNTS:
        short = door_split(dev, embedded, templates, gated).short_of_templates
        result.append((templates, len(short), sum(count == 0 for _, count in short)))
    return tuple(result)


def run_calibrate(
    context: EvalContext,
    faces: Path,
    set_names: list[str],
    *,
    margin: float | None = None,
    visit_frames: int = 5,
    cache: Path | None = None,
    top: int = 10,
    fusion_agreement: float | None = None,
    gated: bool = True,
) -> CalibrationReport:
    """Embed every set, measure its impostors, recommend thresholds and replay them; frames fuse
    when they agree at `fusion_agreement` (None: the pack's, else the threshold); `gated`
    replays the door's gate and enrolment check (see the module docstring)."""
    if fusion_agreement is None and not math.isnan(context.models.fusion_agreement):
        fusion_agreement = context.models.fusion_agreement
    devs = [load_dev_set(name, faces) for name in set_names]
    paths = sorted({image.path for dev in devs for image in dev.images})
    embedded = embed_with_cache(context.pipeline, faces, paths, cache)
    door_frames = door_vectors(embedded, gated)
    agree = context.config.vision.tracker.agree

    def measure(consistency: float) -> list[tuple[DevSet, ImpostorStats]]:
        return [
            (
                dev,
                impostor_stats(
                    dev.images,
                    door_frames,
                    frames=visit_frames,
                    agree=agree,
                    top=top,
                    consistency=consistency,
                ),
            )
            for dev in devs
        ]

    # Any threshold is at least the per-image zero point plus the margin; the runtime fuses only
    # frames agreeing at the threshold, so visits fused at that lowest threshold bound them all.
    if fusion_agreement is None:
        first = measure(2.0)  # images only: nothing fuses at 2
        least_margin = estimate_margin(first)[0] if margin is None else margin
        lowest = round_up(max(stats.highest_image for _, stats in first) + least_margin, 0.001)
        measured = measure(lowest)
    else:
        measured = measure(fusion_agreement)
    window = context.config.vision.tracker.window
    recommendation = recommend(measured, margin, window, fusion_agreement)
    sets = tuple(
        SetReport(
            dev,
            sum(image.path in embedded.failures for image in dev.images),
            stats,
            replay_set(
                context,
                dev,
                embedded,
                recommendation.thresholds,
                visit_frames,
                recommendation.agreement,
                gated,
            ),
            gate_failed=sum(
                image.path in embedded.vectors and not embedded.door_frame(image.path)
                for image in dev.images
            ),
            ungated_highest_image=highest_impostor(dev.images, embedded.vectors),
            short_of_templates=shortfall(dev, embedded, gated),
        )
        for dev, stats in measured
    )
    return CalibrationReport(
        model_id=context.pipeline.model_id,
        pack=context.config.models.pack,
        recommendation=recommendation,
        sets=sets,
        visit_frames=visit_frames,
        fused_frames=context.config.vision.tracker.window,
        gated=gated,
    )
