"""Site adaptation, measured only (`menwei eval adapt`): does PCA whitening fitted on the gallery
help open-set identification?

The whitening is fitted on the enrolled templates alone (what a site has): their mean is removed,
their covariance is shrunk toward isotropic, C' = (1 - s) C + s (tr C / d) I with s = 0.5 by
default, and every vector is mapped to C'^(-1/2) (x - mean), then L2-normalised. Gallery and probes
go through the same map; FNIR at FPIR 1% and 0.1% are compared with the plain cosine, on the same
split (gateway.eval.identify). Nothing here runs at the door.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.eval import metrics
from gateway.eval.identify import IdentifySplit
from gateway.gallery import Gallery
from gateway.vision.embedder import Vector

FloatMatrix = npt.NDArray[np.float64]
FPIRS = (1e-2, 1e-3)


@dataclass(frozen=True)
class Whitening:
    """x -> normalise(matrix @ (x - mean))."""

    mean: FloatMatrix
    matrix: FloatMatrix

    def apply(self, vector: npt.ArrayLike) -> Vector:
        mapped = self.matrix @ (np.asarray(vector, np.float64) - self.mean)
        unit: Vector = (mapped / np.linalg.norm(mapped)).astype(np.float32)
        return unit


def fit_whitening(templates: npt.ArrayLike, shrink: float = 0.5) -> Whitening:
    """Shrunk PCA whitening of the gallery templates (rows)."""
    data = np.asarray(templates, np.float64)
    if data.ndim != 2 or data.shape[0] < 2:
        raise ValueError("whitening needs at least two templates")
    if not 0.0 < shrink <= 1.0:
        raise ValueError("shrink must be in (0, 1]")
    mean = data.mean(axis=0)
    centred = data - mean
    covariance = centred.T @ centred / (data.shape[0] - 1)
    dims = covariance.shape[0]
    target = np.trace(covariance) / dims * np.eye(dims)
    shrunk = (1.0 - shrink) * covariance + shrink * target
    values, vectors = np.linalg.eigh(shrunk)
    matrix = vectors @ np.diag(1.0 / np.sqrt(np.maximum(values, 1e-12))) @ vectors.T
    return Whitening(mean, matrix)


@dataclass(frozen=True)
class OpenSetFigures:
    """FNIR at each FPIR, with the counts behind them."""

    points: dict[float, metrics.OpenSetPoint]

    def to_json(self) -> dict[str, Any]:
        return {
            f"fnir_at_fpir_{fpir:.0e}": {
                "fnir": point.fnir,
                "threshold": point.threshold,
                "mated": point.mated,
                "non_mated": point.non_mated,
            }
            for fpir, point in self.points.items()
        }


def open_set(
    split: IdentifySplit, vectors: Mapping[str, Vector], model_id: str, dimension: int
) -> OpenSetFigures:
    """Top-1 search of every probe against the split's templates; FNIR at FPIRS."""
    gallery = Gallery(model_id, dimension)
    for template in split.templates:
        if template.path in vectors:
            gallery.add(template.label, vectors[template.path], model_id)
    mated_scores, mated_correct, non_mated = [], [], []
    for probe in split.mated:
        match = gallery.search(vectors[probe.path]) if probe.path in vectors else None
        mated_scores.append(match.score if match else -1.0)
        mated_correct.append(match is not None and match.identity == probe.label)
    for probe in split.non_mated:
        match = gallery.search(vectors[probe.path]) if probe.path in vectors else None
        non_mated.append(match.score if match else -1.0)
    return OpenSetFigures(
        {fpir: metrics.fnir_at_fpir(mated_scores, mated_correct, non_mated, fpir) for fpir in FPIRS}
    )


@dataclass(frozen=True)
class AdaptationReport:
    model_id: str
    templates_per_person: int
    gallery_templates: int
    shrink: float
    plain: OpenSetFigures
    whitened: OpenSetFigures

    def to_json(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "templates_per_person": self.templates_per_person,
            "gallery_templates": self.gallery_templates,
            "shrink": self.shrink,
            "plain": self.plain.to_json(),
            "whitened": self.whitened.to_json(),
        }


def measure_adaptation(
    split: IdentifySplit,
    vectors: Mapping[str, Vector],
    model_id: str,
    templates_per_person: int,
    shrink: float = 0.5,
) -> AdaptationReport:
    """Plain cosine and gallery-fitted whitening on the same split."""
    dimension = len(next(iter(vectors.values())))
    gallery_rows = [vectors[t.path] for t in split.templates if t.path in vectors]
    whitening = fit_whitening(np.stack(gallery_rows), shrink)
    mapped = {path: whitening.apply(vector) for path, vector in vectors.items()}
    return AdaptationReport(
        model_id=model_id,
        templates_per_person=templates_per_person,
        gallery_templates=len(gallery_rows),
        shrink=shrink,
        plain=open_set(split, vectors, model_id, dimension),
        whitened=open_set(split, mapped, model_id, dimension),
    )


def format_adaptation(report: AdaptationReport) -> str:
    lines = [
        f"model {report.model_id}: {report.templates_per_person} template(s) per person, "
        f"whitening fitted on {report.gallery_templates} gallery templates "
        f"(shrink {report.shrink:.0%} toward isotropic)"
    ]
    for fpir in FPIRS:
        plain, white = report.plain.points[fpir], report.whitened.points[fpir]
        lines.append(
            f"  FNIR@FPIR{fpir:.0e}: plain {plain.fnir:.3f} -> whitened {white.fnir:.3f} "
            f"({plain.mated} mated, {plain.non_mated} non-mated searches)"
        )
    return "\n".join(lines)
