"""Alignment lands landmarks on the embedder's template; the quality gate names its reasons."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gateway.config.model import QualityConfig
from gateway.vision.align import (
    ARCFACE_METHOD,
    AlignmentError,
    AlignmentSpec,
    align_face,
    estimate_transform,
    transform_points,
)
from gateway.vision.factory import PipelineModels
from gateway.vision.image_io import read_image
from gateway.vision.pipeline import FacePipeline
from gateway.vision.quality import QualityReason, assess_quality, estimate_pose

ARCFACE_112 = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)


def test_aligned_landmarks_sit_on_the_template(
    pipeline: FacePipeline, pipeline_models: PipelineModels, faces_dir: Path
) -> None:
    spec = pipeline_models.alignment
    assert spec.output_size == 150
    template = spec.template_array()
    for name in ("img1.jpg", "img17.jpg", "img38.jpg"):
        frame = read_image(faces_dir / "deepface_unit/images" / name)
        [face] = pipeline.detect(frame)[:1]
        matrix = estimate_transform(face.landmarks, spec)
        mapped = transform_points(face.landmarks, matrix)
        # A similarity cannot fit 5 points exactly; the residual is small on frontal faces.
        assert np.abs(mapped - template).max() < 6.0, name
        crop = align_face(frame, face.landmarks, spec)
        assert crop.shape == (150, 150, 3) and crop.dtype == np.uint8
        # The eyes, which carry the most weight for the embedder, land within 3 px.
        assert np.abs(mapped[:2] - template[:2]).max() < 3.0, name


def test_arcface_template_uses_insightface_alignment() -> None:
    spec = AlignmentSpec(output_size=112, method=ARCFACE_METHOD)
    landmarks = np.asarray(ARCFACE_112, np.float32) * 2.0 + 40.0
    matrix = estimate_transform(landmarks, spec)
    mapped = transform_points(landmarks, matrix)
    assert np.allclose(mapped, np.asarray(ARCFACE_112), atol=1e-3)


@pytest.mark.parametrize("size", [112, 224, 128])
def test_arcface_alignment_equals_insightface_norm_crop(size: int) -> None:
    """Our numpy Umeyama equals insightface's estimate_norm (installed for the tests only) on
    landmarks that no similarity fits exactly: rotated, scaled, shifted and perturbed."""
    from insightface.utils import face_align

    rng = np.random.default_rng(7)
    spec = AlignmentSpec(output_size=size, method=ARCFACE_METHOD)
    for _ in range(50):
        angle, scale = rng.uniform(-0.6, 0.6), rng.uniform(0.5, 4.0)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        points = np.asarray(ARCFACE_112) @ rotation.T * scale + rng.uniform(0, 400, 2)
        landmarks = (points + rng.normal(0, 3.0, points.shape)).astype(np.float32)
        ours = estimate_transform(landmarks, spec)
        theirs = face_align.estimate_norm(landmarks, size)
        assert np.allclose(ours, theirs, atol=1e-6), (ours, theirs)


def test_degenerate_landmarks_are_refused() -> None:
    spec = AlignmentSpec(output_size=150, template=((1, 1), (2, 2), (3, 3), (4, 4), (5, 5)))
    with pytest.raises(AlignmentError):
        estimate_transform(np.full((5, 2), np.nan, np.float32), spec)


def test_frontal_pose_is_near_zero_and_turned_pose_is_not() -> None:
    frontal = np.asarray(
        [[47.4, 45.1], [103.3, 45.9], [74.9, 77.7], [51.7, 102.3], [99.2, 102.7]], np.float32
    )
    pose = estimate_pose(frontal)
    assert abs(pose.yaw_deg) < 5 and abs(pose.pitch_deg) < 5 and abs(pose.roll_deg) < 2
    turned = frontal.copy()
    turned[2, 0] = 100.0  # nose near the right eye: head turned
    assert abs(estimate_pose(turned).yaw_deg) > 40


def test_quality_gate_reasons(pipeline: FacePipeline, faces_dir: Path) -> None:
    frame = read_image(faces_dir / "deepface_unit/images/img1.jpg")
    [face] = pipeline.detect(frame)[:1]
    crop = align_face(frame, face.landmarks, pipeline.alignment)
    config = QualityConfig()
    assert assess_quality(frame, face.landmarks, crop, config).passed
    blurred = cv2.GaussianBlur(crop, (0, 0), 6)
    assert QualityReason.BLUR in assess_quality(frame, face.landmarks, blurred, config).reasons
    dark = (crop // 8).astype(np.uint8)
    assert QualityReason.TOO_DARK in assess_quality(frame, face.landmarks, dark, config).reasons
    strict = QualityConfig(min_eye_distance_px=499)
    assert QualityReason.TOO_SMALL in assess_quality(frame, face.landmarks, crop, strict).reasons
    shifted = face.landmarks - face.landmarks[0] + 0.5  # left eye at the frame corner
    assert QualityReason.AT_EDGE in assess_quality(frame, shifted, crop, config).reasons
