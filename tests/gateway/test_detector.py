"""YuNet detection: our onnxruntime decoding equals OpenCV's cv2.FaceDetectorYN on real photos."""

from __future__ import annotations

import glob
from pathlib import Path

import cv2
import numpy as np
import pytest

from gateway.vision.detector import YuNetDetector
from gateway.vision.image_io import read_image
from gateway.vision.pipeline import FacePipeline
from gateway.vision.quality import QualityReason


def _sample_images(faces_dir: Path) -> list[Path]:
    paths = sorted(glob.glob(str(faces_dir / "deepface_unit/images/*.jpg")))[:10]
    paths += sorted(glob.glob(str(faces_dir / "antispoof/nuaa_raw/live/*.jpg")))[:3]
    paths += sorted(glob.glob(str(faces_dir / "face_recognition_examples/images/*/*")))[:5]
    return [Path(p) for p in paths]


def _fit_640(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    scale = min(1.0, 640 / max(height, width))
    size = (int(width * scale), int(height * scale))
    return np.ascontiguousarray(cv2.resize(image, size))


@pytest.mark.parametrize(
    "model_file", ["face_detection_yunet_2023mar.onnx", "face_detection_yunet_2026may.onnx"]
)
def test_detections_equal_opencv_within_a_pixel(
    models_mirror: Path, faces_dir: Path, model_file: str
) -> None:
    ours = YuNetDetector(models_mirror / model_file, score_threshold=0.6, nms_threshold=0.3)
    reference_model = str(models_mirror / "face_detection_yunet_2023mar.onnx")
    compared = 0
    for path in _sample_images(faces_dir):
        frame = _fit_640(read_image(path))
        height, width = frame.shape[:2]
        if ours.fixed_size is not None:
            frame = cv2.copyMakeBorder(
                frame, 0, 640 - height, 0, 640 - width, cv2.BORDER_CONSTANT, value=0
            )
        size = (frame.shape[1], frame.shape[0])
        reference = cv2.FaceDetectorYN.create(reference_model, "", size, 0.6, 0.3, 50)
        _, expected = reference.detect(frame)
        expected = np.zeros((0, 15), np.float32) if expected is None else expected
        got = ours.detect_raw(frame)
        assert got.shape == expected.shape, path
        if len(got):
            assert np.abs(got[:, :14] - expected[:, :14]).max() < 1.0, path
            assert np.abs(got[:, 14] - expected[:, 14]).max() < 1e-3, path
        compared += len(got)
    assert compared >= 15


def test_large_frame_coordinates_map_back(models_mirror: Path, faces_dir: Path) -> None:
    """A frame bigger than the network input is downscaled; boxes come back in frame pixels."""
    detector = YuNetDetector(models_mirror / "face_detection_yunet_2023mar.onnx")
    small = _fit_640(read_image(faces_dir / "deepface_unit/images/img1.jpg"))
    big = cv2.resize(small, (small.shape[1] * 2, small.shape[0] * 2))
    [face_small] = detector.detect(small)
    [face_big] = detector.detect(big)
    assert np.allclose(face_big.landmarks, face_small.landmarks * 2, atol=4.0)
    assert face_big.box[2] == pytest.approx(face_small.box[2] * 2, abs=6.0)


def test_a_face_filling_the_frame_is_found(models_mirror: Path, faces_dir: Path) -> None:
    """Tight 468 px crops (live and screen replay): too big for YuNet at full size, found by the
    close-up search; the crop's content never decides whether a face is looked for."""
    crops = sorted((faces_dir / "antispoof/rienheuver_lbp").glob("[os]*/*.jpg"))
    assert len(crops) >= 8
    model = models_mirror / "face_detection_yunet_2026may.onnx"
    full_size_only = YuNetDetector(model, close_up_max_side=None)
    detector = YuNetDetector(model)
    for path in crops:
        image = read_image(path)
        assert image.shape[:2] == (468, 468)
        assert full_size_only.detect(image) == [], path
        [face] = detector.detect(image)
        x, y, w, h = face.box
        assert w > 0.5 * image.shape[1] and 0 <= x + w / 2 <= 468 and 0 <= y + h / 2 <= 468
        assert face.eye_distance > 60, path  # landmarks in the crop's own pixels


def test_a_close_up_face_is_reported_but_never_judged(
    pipeline: FacePipeline, faces_dir: Path
) -> None:
    """A screen replay filling the frame (its liveness crop clipped to the face scored 0.80
    "real"): found, marked too close, neither liveness-checked nor embedded."""
    frame = read_image(faces_dir / "antispoof/rienheuver_lbp/screen/bas.jpg")
    [analysis] = pipeline.analyse(frame)
    assert analysis.detection.close_up
    assert analysis.quality is not None and QualityReason.TOO_CLOSE in analysis.quality.reasons
    assert analysis.liveness is None and analysis.embedding is None and not analysis.usable
