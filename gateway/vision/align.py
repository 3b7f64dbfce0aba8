"""5-point similarity alignment of a detected face onto the embedder's landmark template.

The face-api/dlib embedders' spec names `cv2.estimateAffinePartial2D(..., method=cv2.LMEDS)` onto a
150x150 template; the ArcFace-template models (SFace, MobileFaceNet) use insightface's `norm_crop`:
a least-squares similarity (Umeyama 1991) onto the ArcFace 112x112 template, implemented here in
numpy (equal to insightface's `estimate_norm` within float rounding, tests/gateway) so an
installed wheel needs neither insightface nor its start-up cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from gateway.vision.image_io import BGRImage

ARCFACE_METHOD = "arcface_norm_crop"
SIMILARITY_METHOD = "similarity_5pt"
# insightface's `arcface_dst`: where norm_crop puts the 5 landmarks in a 112x112 crop.
ARCFACE_TEMPLATE_112 = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)


class AlignmentError(ValueError):
    """The landmarks do not admit a valid similarity transform (degenerate or non-finite)."""


@dataclass(frozen=True)
class AlignmentSpec:
    """Where the 5 landmarks must land in the output crop, and how the transform is estimated."""

    output_size: int
    template: tuple[tuple[float, float], ...] = ()
    method: str = SIMILARITY_METHOD

    def template_array(self) -> npt.NDArray[np.float32]:
        return np.asarray(self.template, dtype=np.float32).reshape(-1, 2)


def estimate_transform(
    landmarks: npt.NDArray[np.float32], spec: AlignmentSpec
) -> npt.NDArray[np.float64]:
    """The 2x3 similarity matrix mapping frame landmarks onto the spec's template."""
    source = np.asarray(landmarks, dtype=np.float32).reshape(5, 2)
    if not np.isfinite(source).all():
        raise AlignmentError("non-finite landmarks")
    if spec.method == ARCFACE_METHOD:
        return umeyama_similarity(source, arcface_template(spec))
    estimated, _ = cv2.estimateAffinePartial2D(source, spec.template_array(), method=cv2.LMEDS)
    if estimated is None or not np.isfinite(estimated).all():
        raise AlignmentError("landmarks are degenerate (no similarity transform)")
    return np.asarray(estimated, dtype=np.float64)


def arcface_template(spec: AlignmentSpec) -> npt.NDArray[np.float64]:
    """The spec's template, else insightface's for its size (112 multiples scale, 128 multiples
    scale and shift right by 8 * ratio, as `estimate_norm` does)."""
    if spec.template:
        return np.asarray(spec.template, np.float64).reshape(-1, 2)
    size = spec.output_size
    if size % 112 == 0:
        ratio, shift = size / 112.0, 0.0
    elif size % 128 == 0:
        ratio = size / 128.0
        shift = 8.0 * ratio
    else:
        raise AlignmentError(f"no ArcFace template for a {size} px crop")
    template = np.asarray(ARCFACE_TEMPLATE_112, np.float64) * ratio
    template[:, 0] += shift
    return template


def umeyama_similarity(
    source: npt.NDArray[np.float32], target: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The 2x3 least-squares similarity (rotation, uniform scale, translation) taking `source`
    points onto `target` (Umeyama 1991, as skimage's SimilarityTransform.estimate)."""
    src = np.asarray(source, np.float64).reshape(-1, 2)
    dst = np.asarray(target, np.float64).reshape(-1, 2)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(covariance) < 0:
        sign[1, 1] = -1.0
    variance = float((src_c**2).sum() / len(src))
    rank = int(np.linalg.matrix_rank(covariance))
    if variance < 1e-12 or rank == 0:
        raise AlignmentError("landmarks are degenerate (no similarity transform)")
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(singular) @ sign)) / variance
    matrix = np.empty((2, 3), np.float64)
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    if not np.isfinite(matrix).all():
        raise AlignmentError("landmarks are degenerate (no similarity transform)")
    return matrix


def warp_face(frame: BGRImage, matrix: npt.NDArray[np.float64], size: int) -> BGRImage:
    """Warp the frame with `matrix` into a size x size crop (bilinear, black border)."""
    crop = cv2.warpAffine(
        frame,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return np.ascontiguousarray(crop)


def align_face(
    frame: BGRImage, landmarks: npt.NDArray[np.float32], spec: AlignmentSpec
) -> BGRImage:
    """The aligned BGR crop for one face."""
    return warp_face(frame, estimate_transform(landmarks, spec), spec.output_size)


def transform_points(
    points: Sequence[Sequence[float]] | npt.NDArray[np.float32], matrix: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Apply a 2x3 affine matrix to (N, 2) points."""
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    result: npt.NDArray[np.float64] = array @ matrix[:, :2].T + matrix[:, 2]
    return result
