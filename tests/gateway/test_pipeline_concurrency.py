"""The faster pipeline computes the same numbers as the previous one on real faces: dynamic YuNet,
tuned sessions and liveness beside the embedder give equal detections, liveness scores and
embeddings (within 1e-5), hence equal decisions, for both shipped packs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from gateway.bench.frames import candidate_paths, compose
from gateway.modelhub.manifest import bundled_models_dir
from gateway.vision.factory import PipelineModels, build_pipeline
from gateway.vision.image_io import BGRImage, read_image
from gateway.vision.pipeline import FacePipeline

PACKS = ("default", "mobilefacenet")


def _frames(faces_dir: Path) -> list[BGRImage]:
    """640x640 frames (the fixed model's own input size, so both detectors see the same
    pixels) of 1 and 3 LFW faces."""
    photos = [read_image(path) for path in candidate_paths(faces_dir, 9)]
    frames = [compose([photo]) for photo in photos[:6]] + [compose(photos[6:9])]
    square = []
    for frame in frames:
        padded = np.zeros((640, 640, 3), np.uint8)
        padded[:480] = frame
        square.append(padded)
    return square


@pytest.mark.parametrize("pack", PACKS)
def test_same_numbers_as_the_previous_pipeline(
    shipped_pipelines: dict[str, tuple[FacePipeline, PipelineModels]],
    faces_dir: Path,
    pack: str,
) -> None:
    current, models = shipped_pipelines[pack]
    assert current.detector.fixed_size is None  # the dynamic YuNet
    fixed = bundled_models_dir() / "face_detection_yunet_2023mar.onnx"
    previous = build_pipeline(
        dataclasses.replace(models, detector=fixed), current.config, previous=True
    )
    assert previous.detector.fixed_size == (640, 640)
    embedded = 0
    for frame in _frames(faces_dir):
        ours, theirs = current.analyse(frame), previous.analyse(frame)
        assert len(ours) == len(theirs) >= 1
        for a, b in zip(ours, theirs, strict=True):
            assert np.abs(a.detection.as_row() - b.detection.as_row()).max() <= 1e-5
            assert a.usable == b.usable and a.error == b.error
            assert (a.liveness is None) == (b.liveness is None)
            if a.liveness is not None and b.liveness is not None:
                assert abs(a.liveness.score - b.liveness.score) <= 1e-5
            if a.embedding is not None and b.embedding is not None:
                assert np.abs(a.embedding - b.embedding).max() <= 1e-5
                embedded += 1
    assert embedded >= 6
