"""The quality gate: is this detected face good enough to embed and decide on?

Each check has a named reason so the enrolment page and the logs can say why a face was rejected.
Pose is estimated from the 5 landmarks (no extra model): yaw from the nose's horizontal position
between the eyes, pitch from its vertical position between the eye line and the mouth line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt

from gateway.config.model import QualityConfig
from gateway.vision.image_io import BGRImage

# Nose height between the eye line (0) and the mouth line (1) on a frontal face, from the dlib chip
# template in the embedder spec: (77.74 - 45.5) / (102.48 - 45.5).
FRONTAL_NOSE_HEIGHT = 0.566


class QualityReason(StrEnum):
    TOO_SMALL = "too_small"
    AT_EDGE = "at_edge"
    YAW = "yaw"
    PITCH = "pitch"
    BLUR = "blur"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    TOO_CLOSE = "too_close"  # the face fills the frame: liveness has no context to judge


@dataclass(frozen=True)
class PoseEstimate:
    yaw_deg: float
    pitch_deg: float
    roll_deg: float


@dataclass(frozen=True)
class QualityReport:
    """Measured quality of one face and every reason it fails the gate (empty list: passed)."""

    eye_distance_px: float
    pose: PoseEstimate
    sharpness: float
    brightness: float
    reasons: list[QualityReason] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.reasons


def estimate_pose(landmarks: npt.NDArray[np.float32]) -> PoseEstimate:
    """Approximate yaw/pitch/roll in degrees from the 5 YuNet landmarks."""
    eye_l, eye_r, nose, mouth_l, mouth_r = (np.asarray(p, np.float64) for p in landmarks)
    axis = eye_r - eye_l
    roll = math.atan2(axis[1], axis[0])
    cos_r, sin_r = math.cos(-roll), math.sin(-roll)
    rotation = np.array([[cos_r, -sin_r], [sin_r, cos_r]])
    eye_l, eye_r, nose, mouth_l, mouth_r = (
        rotation @ p for p in (eye_l, eye_r, nose, mouth_l, mouth_r)
    )
    eye_span = max(eye_r[0] - eye_l[0], 1e-6)
    # Nose x relative to the eyes' midpoint, in half eye-spans: 0 frontal, +-1 at an eye.
    yaw_ratio = (nose[0] - (eye_l[0] + eye_r[0]) / 2) / (eye_span / 2)
    eye_y = (eye_l[1] + eye_r[1]) / 2
    mouth_y = (mouth_l[1] + mouth_r[1]) / 2
    height = mouth_y - eye_y
    nose_height = (nose[1] - eye_y) / height if abs(height) > 1e-6 else FRONTAL_NOSE_HEIGHT
    pitch_ratio = (nose_height - FRONTAL_NOSE_HEIGHT) / 0.5
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, yaw_ratio))))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, pitch_ratio))))
    return PoseEstimate(yaw, pitch, math.degrees(roll))


def _at_edge(landmarks: npt.NDArray[np.float32], width: int, height: int, margin: int) -> bool:
    xs, ys = landmarks[:, 0], landmarks[:, 1]
    return bool(
        (xs < margin).any()
        or (ys < margin).any()
        or (xs > width - 1 - margin).any()
        or (ys > height - 1 - margin).any()
    )


def assess_quality(
    frame: BGRImage, landmarks: npt.NDArray[np.float32], aligned: BGRImage, config: QualityConfig
) -> QualityReport:
    """Run every check; the report lists all failing reasons, not just the first."""
    eye_distance = float(np.linalg.norm(landmarks[1] - landmarks[0]))
    pose = estimate_pose(landmarks)
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)
    size = grey.shape[0]
    inner = grey[size // 5 : size - size // 5, size // 5 : size - size // 5]
    sharpness = float(cv2.Laplacian(inner, cv2.CV_64F).var())
    brightness = float(inner.mean())
    reasons = []
    if eye_distance < config.min_eye_distance_px:
        reasons.append(QualityReason.TOO_SMALL)
    if _at_edge(landmarks, frame.shape[1], frame.shape[0], config.edge_margin_px):
        reasons.append(QualityReason.AT_EDGE)
    if abs(pose.yaw_deg) > config.max_yaw_deg:
        reasons.append(QualityReason.YAW)
    if abs(pose.pitch_deg) > config.max_pitch_deg:
        reasons.append(QualityReason.PITCH)
    if sharpness < config.min_sharpness:
        reasons.append(QualityReason.BLUR)
    if brightness < config.min_brightness:
        reasons.append(QualityReason.TOO_DARK)
    elif brightness > config.max_brightness:
        reasons.append(QualityReason.TOO_BRIGHT)
    return QualityReport(eye_distance, pose, sharpness, brightness, reasons)
