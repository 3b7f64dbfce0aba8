"""The face-api converter: TFJS weight decoding, and the ONNX it builds from the pinned npm
tarball equals the mirror's file numerically (and its own pinned built_sha256)."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import struct
from collections.abc import Mapping
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from numpy.typing import NDArray
from onnx import numpy_helper

from gateway.config.model import ModelsConfig
from gateway.modelhub import load_manifest, resolve_pack
from gateway.modelhub.faceapi_convert import (
    WeightsFormatError,
    convert_package,
    decode_tfjs_weights,
)
from gateway.modelhub.fetch import fetch_model
from gateway.modelhub.npm_source import (
    SourceIntegrityError,
    default_cache_dir,
    fetch_tarball,
    integrity_of,
    read_pinned_files,
)
from tests.modelhub.helpers import copy_pack

MANIFEST = load_manifest()
ENTRY = MANIFEST.model("faceapi_face_recognition")


def test_decodes_uint8_quantized_and_float32_tensors() -> None:
    manifest = [
        {
            "paths": ["a.bin", "b.bin"],
            "weights": [
                {
                    "name": "q",
                    "shape": [2, 2],
                    "dtype": "float32",
                    "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0},
                },
                {"name": "f", "shape": [2], "dtype": "float32"},
            ],
        }
    ]
    shards = [bytes([0, 1, 2, 255]), struct.pack("<2f", 1.5, -2.25)]
    weights = decode_tfjs_weights(json.dumps(manifest).encode(), shards)
    np.testing.assert_array_equal(weights["q"], [[-1.0, -0.5], [0.0, 126.5]])
    np.testing.assert_array_equal(weights["f"], [1.5, -2.25])
    assert weights["q"].dtype == np.float32
    with pytest.raises(WeightsFormatError, match="left over"):
        decode_tfjs_weights(json.dumps(manifest).encode(), [*shards[:1], shards[1] + b"\0"])
    with pytest.raises(WeightsFormatError, match="shard count"):
        decode_tfjs_weights(json.dumps(manifest).encode(), shards[:1])


def test_npm_integrity_string_format() -> None:
    assert integrity_of(b"") == (
        "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
    )


# ---------------------------------------------------------------- against the real tarball


@pytest.fixture(scope="module")
def package_files() -> Mapping[str, bytes]:
    """The pinned files from the npm tarball (downloaded once into ~/.cache/menwei)."""
    tarball = fetch_tarball(ENTRY.url, ENTRY.source, default_cache_dir())
    return read_pinned_files(tarball, ENTRY.source)


@pytest.fixture(scope="module")
def built_onnx(package_files: Mapping[str, bytes]) -> bytes:
    return convert_package(package_files)


def _session(model: bytes | str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _descriptors(session: ort.InferenceSession, batch: NDArray[np.float32]) -> NDArray[np.float32]:
    out: NDArray[np.float32] = session.run(["descriptor"], {"input": batch})[0]
    return out


def _lfw_batch(faces_dir: Path, count: int) -> NDArray[np.float32]:
    with (faces_dir / "lfw" / "identities.csv").open() as handle:
        paths = [row["path"] for row, _ in zip(csv.DictReader(handle), range(count), strict=False)]
    chips = []
    for relative in paths:
        image = cv2.imread(str(faces_dir / relative))
        assert image is not None, relative
        chip = cv2.resize(image[50:200, 50:200], (150, 150))  # the central face of the 250x250
        chips.append(cv2.cvtColor(chip, cv2.COLOR_BGR2RGB).transpose(2, 0, 1))
    return np.stack(chips).astype(np.float32)


@pytest.mark.slow
def test_built_onnx_has_the_pinned_hash(
    built_onnx: bytes, package_files: Mapping[str, bytes]
) -> None:
    assert hashlib.sha256(built_onnx).hexdigest() == ENTRY.source.built_sha256
    assert convert_package(package_files) == built_onnx  # deterministic


@pytest.mark.slow
@pytest.mark.shared
def test_built_onnx_equals_the_mirror_file(
    built_onnx: bytes, models_mirror: Path, faces_dir: Path
) -> None:
    mirror_file = models_mirror / ENTRY.file
    ours, theirs = _session(built_onnx), _session(str(mirror_file))
    rng = np.random.default_rng(2026)
    batches = {
        "random": rng.uniform(0, 255, (4, 3, 150, 150)).astype(np.float32),
        "lfw": _lfw_batch(faces_dir, 6),
    }
    for name, batch in batches.items():
        a, b = _descriptors(ours, batch), _descriptors(theirs, batch)
        assert a.shape == (len(batch), 128)
        assert np.abs(a - b).max() <= 1e-5, name
        cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cosine.min() >= 0.99999, name
    # Stronger than outputs: every folded conv weight and bias is bit-identical.
    conv_params = [
        [
            numpy_helper.to_array(init)
            for init in model.graph.initializer
            if init.name.endswith(("_W", "_B"))
        ]
        for model in (onnx.load_from_string(built_onnx), onnx.load(str(mirror_file)))
    ]
    assert len(conv_params[0]) == len(conv_params[1]) == 58
    for mine, reference in zip(*conv_params, strict=True):
        np.testing.assert_array_equal(mine, reference)


@pytest.mark.slow
@pytest.mark.shared
def test_fetch_without_mirror_builds_from_npm_and_resolve_accepts_it(
    models_mirror: Path, tmp_path: Path
) -> None:
    result = fetch_model(ENTRY, tmp_path, mirror=None, cache_dir=default_cache_dir())
    assert result.action == "installed" and "@vladmandic/face-api@1.7.15" in result.origin
    pack = MANIFEST.pack("default")
    others = dataclasses.replace(pack, embedder=pack.detector)  # copy the rest from the mirror
    copy_pack(others, models_mirror, tmp_path)
    assert resolve_pack(ModelsConfig(dir=tmp_path)).embedder == tmp_path / ENTRY.file


@pytest.mark.slow
def test_a_changed_upstream_file_is_refused(tmp_path: Path) -> None:
    tarball = fetch_tarball(ENTRY.url, ENTRY.source, default_cache_dir())
    name, _digest = ENTRY.source.files[1]
    wrong = dataclasses.replace(ENTRY.source, files=((name, "0" * 64),))
    with pytest.raises(SourceIntegrityError, match=name):
        read_pinned_files(tarball, wrong)
    # A tarball that does not match the pinned npm integrity is refused after download.
    bad_pin = dataclasses.replace(ENTRY.source, integrity=integrity_of(b"not the tarball"))
    with pytest.raises(SourceIntegrityError, match="integrity"):
        fetch_tarball(ENTRY.url, bad_pin, tmp_path)
    assert not list(tmp_path.rglob("*.tgz"))
