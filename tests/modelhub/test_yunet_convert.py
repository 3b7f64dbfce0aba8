"""The dynamic-input YuNet: menwei's converter builds it from the bundled 2023mar file, byte for
byte the pinned file, with no network; it finds the same faces as the fixed 640x640 model; a
tampered base or a graph with a size-pinning Reshape is refused with nothing written."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from gateway.modelhub import load_manifest
from gateway.modelhub.fetch import fetch_model
from gateway.modelhub.manifest import bundled_models_dir
from gateway.modelhub.yunet_convert import YuNetFormatError, convert, weights_equal
from gateway.vision.detector import YuNetDetector
from gateway.vision.image_io import read_image
from tests.modelhub.helpers import flip_byte

MANIFEST = load_manifest()
DYNAMIC = MANIFEST.model("yunet_2026may")
FIXED = MANIFEST.model("yunet_2023mar")


def _base_bytes() -> bytes:
    return (bundled_models_dir() / FIXED.file).read_bytes()


def test_build_is_deterministic_and_the_pinned_file_with_the_same_weights() -> None:
    first, second = convert(_base_bytes()), convert(_base_bytes())
    assert first == second
    assert hashlib.sha256(first).hexdigest() == DYNAMIC.sha256 and len(first) == DYNAMIC.size
    built, base = onnx.load_from_string(first), onnx.load_from_string(_base_bytes())
    assert weights_equal(built, base)
    dims = [d.dim_param or d.dim_value for d in built.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, "height", "width"]
    for pack in ("default", "mobilefacenet"):
        assert MANIFEST.pack(pack).detector.id == DYNAMIC.id


def test_fetch_without_mirror_builds_it_from_the_bundled_base(tmp_path: Path) -> None:
    result = fetch_model(DYNAMIC, tmp_path, mirror=None)
    assert result.action == "installed", result
    assert result.origin.endswith(f"{FIXED.file} via gateway.modelhub.yunet_convert"), result
    assert hashlib.sha256((tmp_path / DYNAMIC.file).read_bytes()).hexdigest() == DYNAMIC.sha256


def test_a_tampered_base_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    damaged = tmp_path / "bundled"
    shutil.copytree(bundled_models_dir(), damaged)
    flip_byte(damaged / FIXED.file)
    dest = tmp_path / "models"
    with pytest.raises(Exception, match=r"sha256 .* nothing was built"):
        fetch_model(DYNAMIC, dest, mirror=None, bundled_dir=damaged)
    assert not (dest / DYNAMIC.file).exists()
    assert not list(dest.glob("*.part")) if dest.exists() else True


def test_a_graph_whose_reshape_pins_the_size_is_refused() -> None:
    model = onnx.load_from_string(_base_bytes())
    for index, tensor in enumerate(model.graph.initializer):
        if tensor.name == "290":  # the [1, -1, 1] target of the cls/obj Reshapes
            fixed = numpy_helper.from_array(np.array([1, 6400, 1], np.int64), tensor.name)
            model.graph.initializer[index].CopyFrom(fixed)
    with pytest.raises(YuNetFormatError, match="fixed target shape"):
        convert(model.SerializeToString())


@pytest.mark.shared
def test_same_faces_as_the_fixed_model_on_real_photos(faces_dir: Path, tmp_path: Path) -> None:
    fetch_model(DYNAMIC, tmp_path, mirror=None)
    dynamic = YuNetDetector(tmp_path / DYNAMIC.file)
    fixed = YuNetDetector(bundled_models_dir() / FIXED.file)
    assert dynamic.fixed_size is None and fixed.fixed_size == (640, 640)
    compared = 0
    for path in sorted((faces_dir / "deepface_unit/images").glob("*.jpg"))[:8]:
        image = read_image(path)
        scale = 640 / max(image.shape[:2])
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        frame = np.asarray(cv2.resize(image, size), np.uint8)
        padded = np.zeros((640, 640, 3), np.uint8)
        padded[: frame.shape[0], : frame.shape[1]] = frame
        # the same 640x640 pixels: the same numbers
        assert np.array_equal(dynamic.detect_raw(padded), fixed.detect_raw(padded)), path
        # the frame itself, unpadded: the same faces, landmarks within a pixel
        ours, theirs = dynamic.detect(frame), fixed.detect(frame)
        assert len(ours) == len(theirs), path
        for a, b in zip(ours, theirs, strict=True):
            assert np.abs(a.landmarks - b.landmarks).max() < 1.0, path
        compared += len(ours)
    assert compared >= 6
