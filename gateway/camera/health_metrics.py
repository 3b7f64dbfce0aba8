"""Cheap per-frame measurements for camera health: brightness, contrast, sharpness, change.

Everything but the bit-identity test runs on a grey copy downscaled to at most 320 px, which
keeps a measurement around a millisecond on an ARM gateway and averages away sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from gateway.vision.image_io import BGRImage

ANALYSIS_MAX_SIDE = 320
GreyImage = npt.NDArray[np.uint8]


def analysis_grey(image: BGRImage, max_side: int = ANALYSIS_MAX_SIDE) -> GreyImage:
    """Grey, downscaled (area interpolation) copy of a BGR or grey frame."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    height, width = grey.shape[:2]
    longest = max(height, width)
    if longest > max_side:
        scale = max_side / longest
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(grey, dtype=np.uint8)


def sharpness(grey: GreyImage) -> float:
    """Variance of the Laplacian: high for in-focus detail, collapses when defocused."""
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


@dataclass(frozen=True)
class FrameMeasurement:
    """What one measured frame looks like, and how it differs from the previous measured one."""

    brightness: float  # mean grey level 0..255
    contrast: float  # grey standard deviation
    sharpness: float  # variance of the Laplacian
    mean_difference: float | None  # mean |grey - previous grey|; None for the first frame
    identical: bool  # bit-identical to the previous measured frame (full resolution)
    position_unchanged: bool  # the decoder reported the same position as last time


def measure(
    image: BGRImage,
    grey: GreyImage,
    previous_image: BGRImage | None,
    previous_grey: GreyImage | None,
    position: float | None,
    previous_position: float | None,
) -> FrameMeasurement:
    """Measure `image` (with its `analysis_grey`) against the previous measured frame."""
    mean, std = cv2.meanStdDev(grey)
    difference: float | None = None
    identical = False
    if previous_grey is not None and previous_grey.shape == grey.shape:
        difference = float(cv2.absdiff(grey, previous_grey).mean())
        identical = previous_image is not None and np.array_equal(previous_image, image)
    same_position = position is not None and position == previous_position
    return FrameMeasurement(
        brightness=float(mean[0][0]),
        contrast=float(std[0][0]),
        sharpness=sharpness(grey),
        mean_difference=difference,
        identical=identical,
        position_unchanged=same_position,
    )
