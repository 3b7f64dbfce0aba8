"""resolve_pack: licence gate, presence and sha256 of every file, and the verification cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.config.model import ModelsConfig
from gateway.modelhub import (
    LicenceNotAccepted,
    ModelIntegrityError,
    ModelMissingError,
    load_manifest,
    resolve_pack,
    verify_file,
)
from gateway.modelhub.integrity import CACHE_NAME, VerificationCache, sha256_file
from tests.modelhub.helpers import copy_pack, flip_byte

MANIFEST = load_manifest()
pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def default_dir(models_mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("default_pack")
    copy_pack(MANIFEST.pack("default"), models_mirror, folder)
    return folder


def test_resolves_verified_paths_by_role(default_dir: Path) -> None:
    resolved = resolve_pack(ModelsConfig(dir=default_dir))
    pack = MANIFEST.pack("default")
    assert resolved.pack == pack
    assert resolved.detector == default_dir / "face_detection_yunet_2026may.onnx"
    assert resolved.embedder == default_dir / "faceapi_face_recognition.onnx"
    assert resolved.liveness == (
        default_dir / "MiniFASNetV2.onnx",
        default_dir / "MiniFASNetV1SE.onnx",
    )
    assert resolved.path(pack.embedder) == resolved.embedder


def test_second_resolve_is_served_from_the_cache(default_dir: Path) -> None:
    resolve_pack(ModelsConfig(dir=default_dir))
    assert (default_dir / CACHE_NAME).is_file()
    cache = VerificationCache(default_dir)
    for entry in MANIFEST.pack("default").models:
        digest, cached = cache.verify(default_dir / entry.file, entry.accepted_sha256)
        assert cached and digest == sha256_file(default_dir / entry.file)


def test_tampered_file_is_refused_even_with_size_and_mtime_restored(
    models_mirror: Path, tmp_path: Path
) -> None:
    pack = MANIFEST.pack("default")
    copy_pack(pack, models_mirror, tmp_path)
    resolve_pack(ModelsConfig(dir=tmp_path))  # fills the cache
    target = tmp_path / pack.embedder.file
    before = target.stat()
    flip_byte(target)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # hide the write from mtime
    with pytest.raises(ModelIntegrityError) as caught:
        resolve_pack(ModelsConfig(dir=tmp_path))
    error = caught.value
    assert error.path == target
    assert error.expected == pack.embedder.accepted_sha256
    assert error.actual not in error.expected and len(error.actual) == 64
    message = str(error)
    assert str(target) in message and pack.embedder.sha256 in message and error.actual in message


def test_read_only_folder_gets_no_sidecar(models_mirror: Path, tmp_path: Path) -> None:
    pack = MANIFEST.pack("default")
    copy_pack(pack, models_mirror, tmp_path)
    tmp_path.chmod(0o555)  # like the shared mirror; root could still write, menwei must not
    try:
        assert resolve_pack(ModelsConfig(dir=tmp_path)).detector.is_file()
        assert not (tmp_path / CACHE_NAME).exists()
    finally:
        tmp_path.chmod(0o755)


def test_missing_file_is_named(models_mirror: Path, tmp_path: Path) -> None:
    pack = MANIFEST.pack("default")
    copy_pack(pack, models_mirror, tmp_path)
    (tmp_path / pack.liveness[1].file).unlink()
    with pytest.raises(ModelMissingError, match=r"MiniFASNetV1SE\.onnx"):
        resolve_pack(ModelsConfig(dir=tmp_path))


def test_research_pack_needs_its_licence_accepted(models_mirror: Path, tmp_path: Path) -> None:
    pack = MANIFEST.pack("research")
    copy_pack(pack, models_mirror, tmp_path)
    with pytest.raises(LicenceNotAccepted) as caught:
        resolve_pack(ModelsConfig(pack="research", dir=tmp_path))
    error = caught.value
    assert (error.pack, error.licence) == ("research", "insightface-non-commercial")
    assert 'accept_licence = ["insightface-non-commercial"]' in str(error)
    # A different accepted licence does not unlock it; the exact id does.
    with pytest.raises(LicenceNotAccepted):
        resolve_pack(ModelsConfig(pack="research", dir=tmp_path, accept_licence=["non-commercial"]))
    config = ModelsConfig(pack="research", dir=tmp_path, accept_licence=[error.licence])
    assert resolve_pack(config).detector == tmp_path / "det_500m.onnx"


def test_licence_is_checked_before_any_file(tmp_path: Path) -> None:
    with pytest.raises(LicenceNotAccepted):
        resolve_pack(ModelsConfig(pack="research", dir=tmp_path / "empty"))


def test_config_manifest_setting_is_used(tmp_path: Path, default_dir: Path) -> None:
    text = MANIFEST.path.read_text().replace("[packs.dlib]", "[packs.site]", 1)
    custom = tmp_path / "manifest.toml"
    custom.write_text(text)
    config = ModelsConfig(pack="site", dir=default_dir, manifest=custom)
    with pytest.raises(ModelMissingError, match=r"dlib_face_recognition_float\.onnx"):
        resolve_pack(config)


def test_verify_file_accepts_any_pinned_hash(default_dir: Path) -> None:
    entry = MANIFEST.model("yunet_2026may")
    path = default_dir / entry.file
    assert verify_file(path, entry.sha256) == entry.sha256
    assert verify_file(path, ("0" * 64, entry.sha256)) == entry.sha256
    with pytest.raises(ModelIntegrityError):
        verify_file(path, "0" * 64)
