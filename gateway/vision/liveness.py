"""Presentation-attack detection with MiniFASNet V2 + V1SE (minivision Silent-Face), fused.

Each model sees its own crop: minivision's CropImage around the detector box, scaled 2.7 (V2) or
4.0 (V1SE), shifted to stay inside the image, resized to 80x80, raw BGR 0..255. Softmax class 1 is
"real"; the fused score is the mean of the two real-class probabilities (minivision sums them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from gateway.vision.errors import ModelOutputError
from gateway.vision.image_io import BGRImage
from gateway.vision.onnx_session import open_session

REAL_CLASS = 1


def minivision_crop_box(
    width: int, height: int, box: tuple[float, float, float, float], scale: float
) -> tuple[int, int, int, int]:
    """minivision's CropImage._get_new_box: an enlarged box kept inside the image (x1,y1,x2,y2)."""
    x, y, box_w, box_h = box
    box_w, box_h = max(box_w, 1.0), max(box_h, 1.0)
    scale = min((height - 1) / box_h, (width - 1) / box_w, scale)
    new_w, new_h = box_w * scale, box_h * scale
    centre_x, centre_y = x + box_w / 2, y + box_h / 2
    left, top = centre_x - new_w / 2, centre_y - new_h / 2
    right, bottom = centre_x + new_w / 2, centre_y + new_h / 2
    if left < 0:
        right -= left
        left = 0
    if top < 0:
        bottom -= top
        top = 0
    if right > width - 1:
        left -= right - width + 1
        right = width - 1
    if bottom > height - 1:
        top -= bottom - height + 1
        bottom = height - 1
    return int(left), int(top), int(right), int(bottom)


@dataclass(frozen=True)
class LivenessModel:
    """One MiniFASNet model file and the box scale its crop uses."""

    path: Path
    crop_scale: float


@dataclass(frozen=True)
class LivenessResult:
    score: float  # fused probability that the face is real, 0..1
    per_model: tuple[float, ...]

    def passed(self, threshold: float) -> bool:
        return self.score >= threshold


class LivenessChecker:
    """Runs every configured MiniFASNet model on its crop and fuses the 'real' probabilities."""

    def __init__(
        self, models: Sequence[LivenessModel], threads: int = 1, *, tuned: bool = True
    ) -> None:
        if not models:
            raise ValueError("at least one liveness model is required")
        self.models = list(models)
        self.sessions = [open_session(m.path, threads, tuned=tuned) for m in self.models]
        self.input_names = [s.get_inputs()[0].name for s in self.sessions]
        shape = self.sessions[0].get_inputs()[0].shape
        self.input_size = (int(shape[3]), int(shape[2]))

    def crop(
        self, frame: BGRImage, box: tuple[float, float, float, float], scale: float
    ) -> BGRImage:
        height, width = frame.shape[:2]
        left, top, right, bottom = minivision_crop_box(width, height, box, scale)
        patch = frame[max(top, 0) : bottom + 1, max(left, 0) : right + 1]
        if patch.size == 0:
            raise ModelOutputError("empty liveness crop")
        return np.ascontiguousarray(cv2.resize(patch, self.input_size))

    def check(self, frame: BGRImage, box: tuple[float, float, float, float]) -> LivenessResult:
        scores = []
        for model, session, name in zip(self.models, self.sessions, self.input_names, strict=True):
            patch = self.crop(frame, box, model.crop_scale)
            blob = patch.transpose(2, 0, 1)[np.newaxis].astype(np.float32)
            logits = np.asarray(session.run(None, {name: blob})[0], np.float64).reshape(-1)
            scores.append(_softmax_real(logits))
        return LivenessResult(float(np.mean(scores)), tuple(scores))


def _softmax_real(logits: npt.NDArray[np.float64]) -> float:
    if logits.shape != (3,) or not np.isfinite(logits).all():
        raise ModelOutputError(f"liveness output malformed or non-finite: {logits}")
    shifted = np.exp(logits - logits.max())
    return float(shifted[REAL_CLASS] / shifted.sum())
