"""5-point similarity alignment of a detected face onto the embedder's landmark template.

The face-api/dlib embedders' spec names `cv2.estimateAffinePartial2D(..., method=cv2.LMEDS)` onto a
150x150 template; the ArcFace-template models (SFace) use insightface's own `norm_crop`, imported
lazily because insightface (and scikit-image beneath it) cost about a second of start-up.
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
        from insightface.utils import face_align

        matrix: npt.NDArray[np.float64] = face_align.estimate_norm(source, spec.output_size)
        return matrix
    estimated, _ = cv2.estimateAffinePartial2D(source, spec.template_array(), method=cv2.LMEDS)
    if estimated is None or not np.isfinite(estimated).all():
        raise AlignmentError("landmarks are degenerate (no similarity transform)")
    return np.asarray(estimated, dtype=np.float64)


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
