"""Every impostor comparison of a labelled set, per image and per visit, and how far the highest
impostor score moves when new people arrive (the calibration margin).

Per image: every pair of images of two different people is one comparison; no threshold above the
highest such score can grant any of these people as any other, whatever the enrolment (templates,
gallery size, margin rule: all ignored, which only makes the bound safer).

Per visit: the runtime fuses a track's live frames (the normalised mean of their embeddings,
`gateway.vision.visit_fusion`) and grants when the fused embedding matches a resident from at least
`agree` frames. A stranger's best visit against one resident template uses their images that score
highest against it: for every visit length from `agree` to `frames`, the top images (repeated as a
visit cycling through them would, when the stranger has fewer images than frames) are fused and
scored. The visit score of (stranger, resident) is the highest over lengths and the resident's
templates; the per-visit zero point is the highest such score over all ordered pairs of different
people. The runtime fuses only frames that score at least the threshold with each other: with
`consistency` set, an image joins a visit only if it scores at least that with every better image
already in it (the best such visit is found greedily, best image first, at the agreement and
at `MIXED_STEPS - 1` steps of `MIXED_STEP` above it, keeping the highest: a visit found at a
higher agreement is one the runtime fuses at the lower one too).

A track can pass from one person to the next. When `consistency` is below the highest impostor
image score, frames of different people may agree and be fused, so the visits are also composed
from ANY people's images other than the resident's (each template's `MIXED_POOL` best, greedily
as above): the highest such mixed visit bounds tracks mixing strangers. The greedy search is not
exhaustive (an early frame that agrees can block better ones), so it is repeated at the agreement
and `MIXED_STEPS - 1` steps of `MIXED_STEP` above it (frames that agree at a higher value agree at
the lower one too), keeping the highest. A pack's fusion agreement is only as low as keeps it at
or below the single-stranger visits.

The margin: split the people at random into two halves A and B; the zero point measured on A alone
is compared with the highest impostor score of every comparison that involves B (people A never
saw). The excess, over many splits, is how far the zero point of a set of this size moves on new
people: what a threshold at the exact zero point would let in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.eval.datasets import LabelledImage
from gateway.vision.embedder import Vector

TOP_POOL = 20000  # impostor pairs kept (highest first) for the split-half resampling
MIXED_POOL = 150  # per template: the best other people's images a mixed visit is composed from
MIXED_STEP = 0.02  # mixed visits are searched at the agreement and at MIXED_STEPS - 1 steps above
MIXED_STEPS = 6


@dataclass(frozen=True)
class ScorePair:
    """One comparison: its score and the two sides (image paths, or identities for visits)."""

    score: float
    first: str
    first_label: str
    second: str
    second_label: str

    def to_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "first": self.first,
            "first_label": self.first_label,
            "second": self.second,
            "second_label": self.second_label,
        }


@dataclass(frozen=True)
class ImpostorStats:
    """The impostor side of one set: counts, zero points, top pairs and the split-half excess."""

    images: int  # images with a usable face
    identities: int
    image_comparisons: int
    highest_image: float
    top_images: tuple[ScorePair, ...]
    visit_comparisons: int  # ordered (stranger, resident) pairs of different people
    highest_visit: float
    top_visits: tuple[ScorePair, ...]
    mixed_visit_comparisons: int  # resident templates a mixed visit was composed against
    highest_mixed_visit: float  # best visit of several strangers' frames agreeing with each other
    genuine_comparisons: int
    genuine_scores: npt.NDArray[np.float32]
    excess: npt.NDArray[np.float64]  # split-half excess per round (may be negative)

    def excess_quantile(self, q: float) -> float:
        return float(np.quantile(self.excess, q)) if self.excess.size else 0.0

    def genuine_above(self, threshold: float) -> float:
        """Fraction of same-person image pairs scoring at or above `threshold`."""
        scores = self.genuine_scores
        return float((scores >= threshold).mean()) if scores.size else 0.0


def _matrix(
    images: Sequence[LabelledImage], vectors: Mapping[str, Vector]
) -> tuple[list[LabelledImage], npt.NDArray[np.float32], npt.NDArray[np.int64], list[str]]:
    kept = sorted((i for i in images if i.path in vectors), key=lambda i: (i.label, i.path))
    names = sorted({i.label for i in kept})
    code_of = {name: code for code, name in enumerate(names)}
    codes = np.asarray([code_of[i.label] for i in kept], np.int64)
    matrix = np.stack([vectors[i.path] for i in kept]).astype(np.float32)
    return kept, matrix, codes, names


def _top_pairs(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """Indices of the k highest scores, highest first."""
    k = min(k, scores.size)
    if k == 0:
        return np.zeros(0, np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    order: npt.NDArray[np.int64] = part[np.argsort(-scores[part], kind="stable")]
    return order


def cycle_weights(count: int, frames: int) -> npt.NDArray[np.float32]:
    """How often each of `count` images appears in a visit of `frames` frames cycling through them
    (best first); images beyond `frames` get weight 0."""
    return np.asarray([frames // count + (i < frames % count) for i in range(count)], np.float32)


def consistent_top(
    order: npt.NDArray[np.int64], gram: npt.NDArray[np.float32], frames: int, consistency: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per template column, up to `frames` images taken best first, each kept only if it scores
    >= `consistency` with every image kept before it (the runtime fuses only such frames):
    (kept image indices [frames, column], how many were kept per column)."""
    columns = order.shape[1]
    chosen = np.zeros((frames, columns), np.int64)
    chosen[0] = order[0]
    kept = np.ones(columns, np.int64)
    for rank in range(1, order.shape[0]):
        candidate = order[rank]
        ok = kept < frames
        for slot in range(frames - 1):
            ok &= (slot >= kept) | (gram[chosen[slot], candidate] >= consistency)
        chosen[kept[ok], np.flatnonzero(ok)] = candidate[ok]
        kept[ok] += 1
        if (kept >= frames).all():
            break
    return chosen, kept


def fused_visit_scores(
    vectors: npt.NDArray[np.float32],
    templates: npt.NDArray[np.float32],
    frames: int,
    agree: int,
    consistency: float = -1.0,
) -> npt.NDArray[np.float32]:
    """Per template column: the highest fused score of one person's visits (see the module
    docstring) made of their `vectors`, over visit lengths `agree`..`frames`, fusing only images
    that score >= `consistency` with each other."""
    scores = vectors @ templates.T  # [image, template]
    gram = vectors @ vectors.T
    order = np.argsort(-scores, axis=0)  # best image first, per template
    chosen, kept = consistent_top(order, gram, frames, consistency)
    best = np.full(templates.shape[0], -np.inf, np.float32)
    for count in range(1, frames + 1):
        columns = np.flatnonzero(kept == count)
        if not columns.size:
            continue
        top = chosen[:count, columns]
        top_scores = scores[top, columns]
        for length in range(agree, frames + 1):
            w = cycle_weights(count, length)
            numerator = (w[:, None] * top_scores).sum(axis=0)
            squared = np.zeros(columns.size, np.float32)
            for a in range(count):
                for b in range(count):
                    squared += w[a] * w[b] * gram[top[a], top[b]]
            fused = numerator / np.sqrt(np.maximum(squared, 1e-12))
            best[columns] = np.maximum(best[columns], fused)
    return best


def visit_scores(
    matrix: npt.NDArray[np.float32],
    codes: npt.NDArray[np.int64],
    identities: int,
    frames: int,
    agree: int,
    consistency: float = -1.0,
) -> npt.NDArray[np.float32]:
    """[stranger, resident] fused visit scores (see the module docstring); -inf on the diagonal."""
    result = np.full((identities, identities), -np.inf, np.float32)
    for code in range(identities):
        per_template = fused_visit_scores(matrix[codes == code], matrix, frames, agree, consistency)
        np.maximum.at(result[code], codes, per_template)
    np.fill_diagonal(result, -np.inf)
    return result


def mixed_visit_scores(
    matrix: npt.NDArray[np.float32],
    codes: npt.NDArray[np.int64],
    identities: int,
    frames: int,
    agree: int,
    consistency: float,
) -> npt.NDArray[np.float32]:
    """Per resident: the best fused visit composed of any other people's images (see the module
    docstring), fusing only images that score >= `consistency` with each other."""
    result = np.full(identities, -np.inf, np.float32)
    for code in range(identities):
        templates = matrix[codes == code]
        others = np.flatnonzero(codes != code)
        if not templates.size or not others.size:
            continue
        scores = matrix[others] @ templates.T
        best_rows = np.argsort(-scores, axis=0)[:MIXED_POOL]
        pool = others[np.unique(best_rows.reshape(-1))]
        per_template = fused_visit_scores(matrix[pool], templates, frames, agree, consistency)
        result[code] = float(per_template.max())
    return result


def split_half_excess(
    pool_scores: npt.NDArray[np.float32],
    pool_rows: npt.NDArray[np.int64],
    pool_cols: npt.NDArray[np.int64],
    codes: npt.NDArray[np.int64],
    identities: int,
    rounds: int,
    seed: int = 2026,
) -> npt.NDArray[np.float64]:
    """Per round: highest impostor involving the held-out half minus the zero point of the other
    half. `pool_*` are the highest impostor pairs, highest first."""
    if identities < 4 or pool_scores.size == 0:
        return np.zeros(0, np.float64)
    rng = np.random.default_rng(seed)
    excess = []
    for _ in range(rounds):
        seen = np.zeros(identities, bool)
        seen[rng.permutation(identities)[: identities // 2]] = True
        both_seen = seen[codes[pool_rows]] & seen[codes[pool_cols]]
        if not both_seen.any() or both_seen.all():
            continue
        zero_seen = pool_scores[int(np.argmax(both_seen))]
        new = pool_scores[int(np.argmax(~both_seen))]
        excess.append(float(new) - float(zero_seen))
    return np.asarray(excess, np.float64)


def highest_impostor(images: Sequence[LabelledImage], vectors: Mapping[str, Vector]) -> float:
    """The highest score of any two images of different people (-1 with none)."""
    kept = [i for i in images if i.path in vectors]
    if len(kept) < 2:
        return -1.0
    _, matrix, codes, _ = _matrix(kept, vectors)
    similarity = matrix @ matrix.T
    similarity[codes[:, None] == codes[None, :]] = -np.inf
    best = float(similarity.max())
    return best if np.isfinite(best) else -1.0


def impostor_stats(
    images: Sequence[LabelledImage],
    vectors: Mapping[str, Vector],
    *,
    frames: int,
    agree: int,
    top: int = 10,
    rounds: int = 200,
    consistency: float = -1.0,
) -> ImpostorStats:
    """All impostor comparisons of a set (images without a usable face are left out)."""
    kept, matrix, codes, names = _matrix(images, vectors)
    similarity = matrix @ matrix.T
    rows, cols = np.triu_indices(len(kept), 1)
    scores = similarity[rows, cols]
    different = codes[rows] != codes[cols]
    imp_scores, imp_rows, imp_cols = scores[different], rows[different], cols[different]
    order = _top_pairs(imp_scores, max(top, TOP_POOL))
    top_images = tuple(
        ScorePair(
            float(imp_scores[i]),
            kept[imp_rows[i]].path,
            kept[imp_rows[i]].label,
            kept[imp_cols[i]].path,
            kept[imp_cols[i]].label,
        )
        for i in order[:top]
    )
    visits = visit_scores(matrix, codes, len(names), frames, agree, consistency)
    if consistency <= 1.0:
        # The greedy search is not exhaustive (an early frame that agrees can block better ones):
        # frames agreeing at a higher value agree at this one too, so the steps above are searched.
        for step in consistency + MIXED_STEP * np.arange(1, MIXED_STEPS):
            higher = visit_scores(matrix, codes, len(names), frames, agree, float(step))
            visits = np.maximum(visits, higher)
    finite = np.isfinite(visits)
    flat = np.flatnonzero(finite.reshape(-1))
    visit_order = flat[np.argsort(-visits.reshape(-1)[flat], kind="stable")][:top]
    top_visits = tuple(
        ScorePair(
            float(visits.reshape(-1)[i]),
            names[i // len(names)],
            "stranger",
            names[i % len(names)],
            "resident",
        )
        for i in visit_order
    )
    excess = split_half_excess(
        imp_scores[order], imp_rows[order], imp_cols[order], codes, len(names), rounds
    )
    highest_visit = float(visits[finite].max()) if finite.any() else -1.0
    highest_image = float(imp_scores.max()) if imp_scores.size else -1.0
    if consistency > highest_image:
        # No two different people's images agree: a mixed visit is one stranger's visit.
        highest_mixed = highest_visit
    else:
        # Frames agreeing at a higher value agree at this one too; the greedy search may miss a
        # visit one of them finds, so the steps above the agreement are searched as well.
        highest_mixed = highest_visit
        for step in consistency + MIXED_STEP * np.arange(MIXED_STEPS):
            mixed = mixed_visit_scores(matrix, codes, len(names), frames, agree, float(step))
            if np.isfinite(mixed).any():
                highest_mixed = max(highest_mixed, float(mixed.max()))
    return ImpostorStats(
        images=len(kept),
        identities=len(names),
        image_comparisons=int(imp_scores.size),
        highest_image=highest_image,
        top_images=top_images,
        visit_comparisons=int(finite.sum()),
        highest_visit=highest_visit,
        top_visits=top_visits,
        mixed_visit_comparisons=len(kept),
        highest_mixed_visit=highest_mixed,
        genuine_comparisons=int((~different).sum()),
        genuine_scores=scores[~different],
        excess=excess,
    )
