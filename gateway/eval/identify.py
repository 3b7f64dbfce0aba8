"""Open-set 1:N identification on an identities CSV, and the decision rule replayed on its probes.

Split (deterministic, independent of file order): people with at least two images go to the
enrolled or the never-enrolled side by the parity of the first byte of sha256(name); people with a
single image cannot be both enrolled and probed, so they are never-enrolled too. An enrolled
person's first image (sorted by path) is the gallery template (with `templates_per_person` K, the
first K images, always leaving at least one probe) and the rest are mated probes; every image of a
never-enrolled person is a non-mated probe, so K does not change the non-mated set. An image
without a usable face is a failed search: a miss for a mated probe, a correct rejection for a
non-mated one (both counted).

Replaying the door (`gated`, the default of `menwei eval identify` and `calibrate`; `--ungated`
keeps the earlier protocol, every face scored): the templates are the first
K photos of a person that enrolment accepts (`EmbeddedImages.enrolment_photo`: one face passing
the quality gate), as staff take another photo when one is refused; a person with fewer such
photos is enrolled with what passed (`IdentifySplit.short_of_templates` names them; with none at
all, every visit of theirs is a miss). Probes are all their other images, and the door judges
only those whose face passes its gate (`gateway.eval.visits`); in the single-search figures
(FNIR@FPIR, rank 1) a probe failing the gate is a failed search, like one without a face. The
sides (enrolled or not) do not depend on the gate, so gated and ungated figures cover the same
people and the same non-mated probes.

The rule replayed is the runtime's (`rule_from_config` with the pack's small-gallery threshold and
fusion agreement); `--threshold` replaces only the resident threshold in it.

The decision rule is replayed per image (each probe a track of `agree` identical frames) and, with
`visit_frames` N, per visit (each track N frames from different images of one person; see
`gateway.eval.visits`), both through the runtime's own `judge_track`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateway.eval import metrics
from gateway.eval.context import EvalContext
from gateway.eval.datasets import DatasetError, LabelledImage
from gateway.eval.embedding_cache import embed_with_cache
from gateway.eval.embeddings import EmbeddedImages
from gateway.eval.visits import (
    PER_IMAGE,
    PER_VISIT,
    FrameSearch,
    ReplayFigures,
    describe,
    door_vectors,
    format_figures,
    replay,
)
from gateway.gallery import Gallery
from gateway.vision.decision import DecisionRule
from gateway.vision.embedder import Vector
from gateway.vision.factory import UncalibratedModelError, effective_thresholds
from gateway.vision.recogniser import rule_from_config

FPIR_TARGETS = (1e-2, 1e-3)
PROCUREMENT_FNIR = 0.02  # >= 98% of residents pass ...
PROCUREMENT_FPIR = 1e-2  # ... at 1% false alarms on never-enrolled people
NO_FACE_SCORE = -1.0


def is_enrolled(name: str) -> bool:
    """The deterministic enrolment side of a person with at least two images."""
    return hashlib.sha256(name.encode("utf-8")).digest()[0] % 2 == 0


@dataclass(frozen=True)
class IdentifySplit:
    """Gallery templates and probes: (path, true identity) with the identity enrolled or not."""

    templates: tuple[LabelledImage, ...]
    mated: tuple[LabelledImage, ...]
    non_mated: tuple[LabelledImage, ...]
    # Enrolled people left with fewer templates than their photos allow because enrolment refused
    # some (templates kept; 0: none passed).
    short_of_templates: tuple[tuple[str, int], ...] = ()


def split_identities(
    images: list[LabelledImage],
    templates_per_person: int = 1,
    accept: Callable[[str], bool] | None = None,
) -> IdentifySplit:
    """Apply the split described in the module docstring; `accept` is enrolment's photo check
    (None: every photo is accepted, the ungated protocol)."""
    if templates_per_person < 1:
        raise ValueError("templates_per_person must be at least 1")
    by_person: dict[str, list[LabelledImage]] = defaultdict(list)
    for image in images:
        by_person[image.label].append(image)
    templates: list[LabelledImage] = []
    mated: list[LabelledImage] = []
    non_mated: list[LabelledImage] = []
    short: list[tuple[str, int]] = []
    for name in sorted(by_person):
        person = sorted(by_person[name], key=lambda image: image.path)
        if len(person) >= 2 and is_enrolled(name):
            count = min(templates_per_person, len(person) - 1)
            good = [image for image in person if accept is None or accept(image.path)]
            chosen = good[:count]
            templates.extend(chosen)
            mated.extend(image for image in person if image not in chosen)
            if len(chosen) < count:  # refused photos cost templates the person's photos allow
                short.append((name, len(chosen)))
        else:
            non_mated.extend(person)
    return IdentifySplit(tuple(templates), tuple(mated), tuple(non_mated), tuple(short))


@dataclass(frozen=True)
class ProbeResult:
    """Top-1 answer for one probe (identity None when the probe had no usable face)."""

    truth: str
    enrolled: bool
    identity: str | None
    score: float
    margin: float
    competitors: int = 0  # other enrolled identities (the runtime's small-gallery rule uses it)


@dataclass(frozen=True)
class IdentifyReport:
    """Everything `menwei eval identify` reports."""

    model_id: str
    split: IdentifySplit
    results: tuple[ProbeResult, ...]
    points: dict[float, metrics.OpenSetPoint]
    rule: DecisionRule
    at_rule: metrics.OpenSetPoint  # FPIR/FNIR of single searches at the rule's threshold
    threshold_source: str
    per_image: ReplayFigures
    per_visit: ReplayFigures | None
    template_no_face: int
    probe_no_face: int
    gated: bool = True  # the door's quality gate and enrolment check replayed
    probe_gate_failed: int = 0  # probes with a face that fails the door's gate

    @property
    def rank1(self) -> float:
        mated = [r for r in self.results if r.enrolled]
        return sum(r.identity == r.truth for r in mated) / len(mated) if mated else 0.0

    @property
    def procurement_met(self) -> bool:
        return self.points[PROCUREMENT_FPIR].fnir <= PROCUREMENT_FNIR

    def to_json(self) -> dict[str, Any]:
        per_image = self.per_image.to_json()
        return {
            "model_id": self.model_id,
            "enrolled_identities": len({t.label for t in self.split.templates}),
            "templates": len(self.split.templates),
            "mated_probes": len(self.split.mated),
            "non_mated_probes": len(self.split.non_mated),
            "template_no_face": self.template_no_face,
            "probe_no_face": self.probe_no_face,
            "gated": self.gated,
            "probe_gate_failed": self.probe_gate_failed,
            "people_short_of_templates": len(self.split.short_of_templates),
            "people_without_template": sum(
                count == 0 for _, count in self.split.short_of_templates
            ),
            "rank1_accuracy": self.rank1,
            "fnir_at_fpir_1e-2": self.points[1e-2].fnir,
            "fnir_at_fpir_1e-3": self.points[1e-3].fnir,
            "threshold_at_fpir_1e-2": self.points[1e-2].threshold,
            "threshold_at_fpir_1e-3": self.points[1e-3].threshold,
            "fpir_resolution": 1.0 / max(len(self.split.non_mated), 1),
            "procurement_bar": {
                "fnir_max": PROCUREMENT_FNIR,
                "fpir": PROCUREMENT_FPIR,
                "met": self.procurement_met,
            },
            "decision_rule": {
                "similarity_threshold": self.rule.similarity_threshold,
                "small_gallery_threshold": self.rule.small_gallery_threshold,
                "small_gallery_identities": self.rule.small_gallery_identities,
                "fusion_agreement": self.rule.agreement_threshold,
                "threshold_source": self.threshold_source,
                "min_margin": self.rule.min_margin,
                "window": self.rule.window,
                "agree": self.rule.agree,
                "track_frames": self.per_image.frames,
                "fpir_at_threshold": self.at_rule.fpir,
                "fnir_at_threshold": self.at_rule.fnir,
            },
            # Per-image figures at the top level, as before the visit mode existed.
            "verdicts": per_image["verdicts"],
            "false_grants": per_image["false_grants"],
            "false_grant_examples": per_image["false_grant_examples"],
            "per_image": per_image,
            "per_visit": None if self.per_visit is None else self.per_visit.to_json(),
        }


def search_probes(
    gallery: Gallery, split: IdentifySplit, vectors: dict[str, Vector]
) -> list[ProbeResult]:
    """Top-1 gallery answer for every probe (a probe absent from `vectors`: a failed search)."""
    results = []
    for probes, enrolled in ((split.mated, True), (split.non_mated, False)):
        for probe in probes:
            vector = vectors.get(probe.path)
            match = gallery.search(vector) if vector is not None else None
            if match is None:
                results.append(ProbeResult(probe.label, enrolled, None, NO_FACE_SCORE, 0.0))
            else:
                results.append(
                    ProbeResult(
                        probe.label,
                        enrolled,
                        match.identity,
                        match.score,
                        match.margin,
                        match.competitors,
                    )
                )
    return results


def decision_threshold(
    context: EvalContext, given: float | None, fallback: metrics.OpenSetPoint
) -> tuple[float, str]:
    """The replay threshold: --threshold, else the configured/calibrated one, else FPIR 1%."""
    if given is not None:
        return given, "--threshold"
    try:
        return effective_thresholds(context.models, context.config.vision)[0], "config"
    except UncalibratedModelError:
        return fallback.threshold, "fpir_1e-2 (no calibrated threshold configured)"


def build_gallery(
    model_id: str, dimension: int, templates: tuple[LabelledImage, ...], embedded: EmbeddedImages
) -> tuple[Gallery, int]:
    """The gallery of the split's templates, and how many templates had no usable face."""
    gallery = Gallery(model_id, dimension)
    no_face = 0
    for template in templates:
        vector = embedded.vectors.get(template.path)
        if vector is None:
            no_face += 1
        else:
            gallery.add(template.label, vector, model_id)
    return gallery, no_face


def replay_rule(context: EvalContext, threshold: float) -> DecisionRule:
    """The runtime's rule with `threshold` as the resident threshold: margin and K of N from the
    config, small-gallery threshold and fusion agreement from the pack, whatever the threshold's
    source (a NaN agreement fuses at the threshold, as at the door)."""
    models = context.models
    return rule_from_config(
        context.config.vision, threshold, models.small_gallery_threshold, models.fusion_agreement
    )


def _require_every_side(split: IdentifySplit) -> None:
    if not split.templates or not split.mated or not split.non_mated:
        raise DatasetError("the identities CSV gives no enrolled, mated or non-mated probes")


def run_identify(
    context: EvalContext,
    images: list[LabelledImage],
    root: Path,
    threshold: float | None = None,
    cache: Path | None = None,
    templates_per_person: int = 1,
    visit_frames: int | None = None,
    gated: bool = True,
) -> IdentifyReport:
    """Embed, enrol, search every probe, compute FNIR@FPIR and replay the decision rule; `gated`
    replays the door's quality gate and enrolment check (see the module docstring)."""
    pipeline = context.pipeline
    _require_every_side(split_identities(images))  # the sides do not depend on the gate
    embedded = embed_with_cache(pipeline, root, [image.path for image in images], cache)
    split = split_identities(
        images, templates_per_person, embedded.enrolment_photo if gated else None
    )
    _require_every_side(split)  # gated: enrolment may have refused every photo
    gallery, template_no_face = build_gallery(
        pipeline.model_id, pipeline.embedder.dimension, split.templates, embedded
    )
    door_frames = door_vectors(embedded, gated)
    results = search_probes(gallery, split, door_frames)
    mated = [r for r in results if r.enrolled]
    non_mated_scores = np.asarray([r.score for r in results if not r.enrolled])
    mated_scores = [r.score for r in mated]
    mated_correct = [r.identity == r.truth for r in mated]
    points = {
        fpir: metrics.fnir_at_fpir(mated_scores, mated_correct, non_mated_scores, fpir)
        for fpir in FPIR_TARGETS
    }
    value, source = decision_threshold(context, threshold, points[1e-2])
    rule = replay_rule(context, value)
    search = FrameSearch(gallery, door_frames)
    per_image = replay(PER_IMAGE, rule.agree, split.mated, split.non_mated, search, rule)
    per_visit = None
    if visit_frames is not None:
        per_visit = replay(
            PER_VISIT, visit_frames, split.mated, split.non_mated, search, rule, gated
        )
    probe_paths = {p.path for p in (*split.mated, *split.non_mated)}
    return IdentifyReport(
        model_id=pipeline.model_id,
        split=split,
        results=tuple(results),
        points=points,
        rule=rule,
        at_rule=metrics.open_set_at(mated_scores, mated_correct, non_mated_scores, value),
        threshold_source=source,
        per_image=per_image,
        per_visit=per_visit,
        template_no_face=template_no_face,
        probe_no_face=sum(path in embedded.failures for path in probe_paths),
        gated=gated,
        probe_gate_failed=sum(
            path in embedded.vectors and not embedded.door_frame(path) for path in probe_paths
        ),
    )


def format_identify(report: IdentifyReport) -> str:
    """Human-readable summary."""
    data = report.to_json()
    rule = data["decision_rule"]
    lines = [
        f"model {data['model_id']}: {data['enrolled_identities']} enrolled people "
        f"({data['templates']} templates), "
        f"{data['mated_probes']} mated probes, {data['non_mated_probes']} non-mated probes "
        f"(no face: {data['template_no_face']} templates, {data['probe_no_face']} probes)",
        (
            f"door replay: {data['probe_gate_failed']} probes fail the quality gate (never "
            f"judged), {data['people_short_of_templates']} people short of templates as "
            f"enrolment refuses photos ({data['people_without_template']} with none)"
            if report.gated
            else f"ungated: every face scored, gate or not ({data['probe_gate_failed']} probes "
            "fail the door's quality gate)"
        ),
        f"rank-1 accuracy {data['rank1_accuracy']:.4f}",
    ]
    for fpir, point in report.points.items():
        lines.append(
            f"FNIR@FPIR{fpir:.0e}: {point.fnir:.4f} at threshold {point.threshold:.4f} "
            f"(measured FPIR {point.fpir:.4f} over {point.non_mated} non-mated)"
        )
    bar = data["procurement_bar"]
    lines.append(
        f"procurement bar (FNIR <= {bar['fnir_max']:.0%} at FPIR {bar['fpir']:.0%}): "
        + ("MET" if bar["met"] else "NOT MET")
    )
    lines.append(
        f"decision rule replay (threshold {rule['similarity_threshold']:.4f} from "
        f"{rule['threshold_source']}, small gallery {rule['small_gallery_threshold']:.4f} below "
        f"{rule['small_gallery_identities']} others, fusion agreement "
        f"{rule['fusion_agreement']:.4f}, margin {rule['min_margin']}, "
        f"{rule['agree']} of {rule['window']}, frames live; single searches at this threshold: "
        f"FPIR {rule['fpir_at_threshold']:.4f}, FNIR {rule['fnir_at_threshold']:.4f})"
    )
    for figures in (report.per_image, report.per_visit):
        if figures is not None:
            lines.append("  " + format_figures(figures))
            lines.extend(f"    false grant: {describe(o)}" for o in figures.false_grants[:10])
    return "\n".join(lines)
