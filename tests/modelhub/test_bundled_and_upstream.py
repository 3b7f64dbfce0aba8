"""The bundled defaults install with no mirror and no network; `--upstream` rebuilds them from the
official downloads (served here by a local HTTP server) byte for byte; a corrupt bundled copy, a
truncated or incomplete download are refused with nothing written, and the door does not start
without its liveness models."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import secrets
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.config import parse_config
from gateway.modelhub import ModelMissingError, load_manifest
from gateway.modelhub.fetch import fetch_model, fetch_pack
from gateway.modelhub.manifest import bundled_models_dir, default_manifest_path
from gateway.modelhub.torch_checkpoint import read_state_dict
from gateway.modelhub.upstream import UpstreamError
from gateway.vision.liveness import LivenessChecker, LivenessModel
from menwei.main import main
from tests.modelhub.helpers import flip_byte
from tests.modelhub.test_minifasnet_convert import CHECKPOINTS, real_face_crops
from tests.modelhub.torch_writer import legacy_checkpoint

MANIFEST = load_manifest()
DEFAULT = MANIFEST.pack("default")
BUNDLED = [e for e in MANIFEST.models.values() if e.source.kind == "bundled"]
LIVENESS = [e for e in DEFAULT.liveness]


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def official_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local stand-in for the official hosts: (base URL, the folder it serves)."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.part")) if folder.exists() else []


def test_bundled_files_are_the_pinned_ones_with_their_licences() -> None:
    folder = bundled_models_dir()
    assert {e.id for e in BUNDLED} == {"yunet_2023mar", "minifasnet_v2", "minifasnet_v1se"}
    for entry in BUNDLED:
        data = (folder / entry.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256 and len(data) == entry.size
    notice = (folder / "NOTICE").read_text()
    for entry in BUNDLED:
        assert entry.file in notice
        if entry.source.upstream_sha256:
            assert entry.source.upstream_sha256 in notice
    assert "Copyright (c) 2020 Shiqi Yu" in (folder / "LICENSE.MIT.yunet.txt").read_text()
    assert "Apache License" in (folder / "LICENSE.Apache-2.0.minifasnet.txt").read_text()


def test_default_pack_without_mirror_takes_the_bundled_copies(tmp_path: Path) -> None:
    dest = tmp_path / "models"
    for entry in BUNDLED:
        result = fetch_model(entry, dest, mirror=None)
        assert result.action == "installed" and result.origin.startswith("bundled "), result
    # a mirror that lacks a bundled file falls back to the package copy
    empty_mirror = tmp_path / "mirror"
    empty_mirror.mkdir()
    again = fetch_model(LIVENESS[0], tmp_path / "other", mirror=empty_mirror)
    assert again.origin.startswith("bundled ")


def _manifest_pointing_at(base: str, tmp_path: Path) -> Path:
    text = default_manifest_path().read_text()
    for entry in BUNDLED:
        text = text.replace(f'url = "{entry.url}"', f'url = "{base}/{entry.url.rsplit("/", 1)[1]}"')
    path = tmp_path / "manifest.toml"
    path.write_text(text)
    return path


@pytest.mark.shared
@pytest.mark.slow
def test_upstream_fetch_rebuilds_the_bundled_files_from_the_official_downloads(
    official_server: tuple[str, Path],
    tmp_path: Path,
    faces_dir: Path,
    models_mirror: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, www = official_server
    for name in CHECKPOINTS.values():
        shutil.copyfile(models_mirror / "upstream" / name, www / name)
    yunet = MANIFEST.model("yunet_2023mar")  # the default detector is built from it
    shutil.copyfile(models_mirror / yunet.file, www / yunet.file)
    dest = tmp_path / "models"
    config = tmp_path / "gateway.toml"
    manifest = _manifest_pointing_at(base, tmp_path)
    config.write_text(f'[models]\ndir = "{dest}"\nmanifest = "{manifest}"\n')
    assert main(["models", "fetch", "--upstream", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "4 verified, 0 failed" in out and "from the official sources" in out
    assert out.count("via gateway.modelhub.minifasnet_convert") == 2
    assert f"{base}/{yunet.file} via gateway.modelhub.yunet_convert" in out
    for entry in LIVENESS:
        assert (dest / entry.file).read_bytes() == (bundled_models_dir() / entry.file).read_bytes()
    assert hashlib.sha256((dest / DEFAULT.detector.file).read_bytes()).hexdigest() == (
        DEFAULT.detector.sha256
    )
    assert main(["models", "verify", "--config", str(config)]) == 0
    # equal outputs on real faces: the rebuilt files against the bundled ones
    rebuilt = LivenessChecker(
        [LivenessModel(dest / e.file, e.preprocess.crop_scale or 0) for e in LIVENESS]
    )
    bundled = LivenessChecker(
        [
            LivenessModel(bundled_models_dir() / e.file, e.preprocess.crop_scale or 0)
            for e in LIVENESS
        ]
    )
    for index, entry in enumerate(LIVENESS):
        assert entry.preprocess.crop_scale is not None
        for crop in real_face_crops(faces_dir, entry.preprocess.crop_scale, count=8):
            a = rebuilt.sessions[index].run(None, {"input": crop})[0]
            b = bundled.sessions[index].run(None, {"input": crop})[0]
            assert np.abs(a - b).max() <= 1e-5


@pytest.mark.shared
def test_a_truncated_mispinned_or_incomplete_official_download_is_refused_unwritten(
    official_server: tuple[str, Path], tmp_path: Path, models_mirror: Path
) -> None:
    base, www = official_server
    entry = MANIFEST.model("minifasnet_v2")
    official = (models_mirror / "upstream" / CHECKPOINTS[entry.id]).read_bytes()
    (www / "truncated.pth").write_bytes(official[: len(official) // 2])
    dest = tmp_path / "models"
    truncated = dataclasses.replace(entry, url=f"{base}/truncated.pth")
    with pytest.raises(UpstreamError, match=r"not the pinned .* refused before conversion"):
        fetch_model(truncated, dest, mirror=None, upstream=True)
    # the genuine checkpoint, but a build whose hash is not the pinned one: refused after conversion
    (www / "official.pth").write_bytes(official)
    wrong_pin = dataclasses.replace(entry, url=f"{base}/official.pth", sha256="0" * 64)
    with pytest.raises(UpstreamError, match=r"built MiniFASNetV2\.onnx with sha256 .* refused"):
        fetch_model(wrong_pin, dest, mirror=None, upstream=True)
    assert not (dest / entry.file).exists() and _parts(dest) == []
    # a checkpoint missing one tensor, even if someone re-pinned its hash, is refused by the
    # converter itself
    tensors = read_state_dict(official)
    del tensors["module.conv_5.model.1.project.bn.weight"]
    incomplete = legacy_checkpoint(tensors)
    (www / "incomplete.pth").write_bytes(incomplete)
    source = dataclasses.replace(
        entry.source, upstream_sha256=hashlib.sha256(incomplete).hexdigest()
    )
    repinned = dataclasses.replace(entry, url=f"{base}/incomplete.pth", source=source)
    results = fetch_pack(
        dataclasses.replace(DEFAULT, liveness=(repinned,)), dest, None, upstream=True
    )
    failed = next(r for r in results if r.model_id == entry.id)
    assert failed.action == "failed"
    assert "conv_5.model.1.project.bn.weight" in failed.origin
    assert not (dest / entry.file).exists() and _parts(dest) == []


def _service_config(tmp_path: Path, models: Path) -> Any:
    key = tmp_path / "template.key"
    key.write_text(secrets.token_hex(32))
    camera = tmp_path / "camera"
    camera.mkdir()
    return parse_config(
        {
            "models": {"dir": str(models)},
            "store": {
                "url": f"sqlite:///{tmp_path / 'menwei.db'}",
                "key_file": str(key),
                "backup_dir": str(tmp_path / "backups"),
            },
            "camera": {"source": str(camera), "kind": "folder"},
            "provisioning": {"enabled": False},
        },
        environ={},
    )


@pytest.mark.shared
def test_a_corrupt_bundled_copy_is_refused_and_the_door_does_not_start(
    tmp_path: Path, models_mirror: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.runtime.service import AccessService

    damaged = tmp_path / "bundled"
    shutil.copytree(bundled_models_dir(), damaged)
    flip_byte(damaged / "MiniFASNetV2.onnx")
    dest = tmp_path / "models"
    shutil.copyfile(
        models_mirror / DEFAULT.embedder.file, dest.mkdir() or dest / DEFAULT.embedder.file
    )
    results = {r.model_id: r for r in fetch_pack(DEFAULT, dest, None, bundled_dir=damaged)}
    assert results["minifasnet_v2"].action == "failed"
    assert "installation is damaged" in results["minifasnet_v2"].origin
    assert "nothing was installed" in results["minifasnet_v2"].origin
    assert results["minifasnet_v1se"].action == "installed"
    assert not (dest / "MiniFASNetV2.onnx").exists() and _parts(dest) == []
    service = AccessService(_service_config(tmp_path, dest))
    with pytest.raises(ModelMissingError, match=r"MiniFASNetV2\.onnx"):
        service.start()
    assert service.vision_loop is None  # never started: no camera, no decisions, no door
