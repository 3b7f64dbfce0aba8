"""`menwei models fetch / verify / list` against the real mirror, through the CLI entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gateway.config.model import ModelsConfig
from gateway.modelhub import load_manifest, resolve_pack
from gateway.modelhub.fetch import MIRROR_ENV, FetchError, fetch_model
from menwei.main import main
from tests.modelhub.helpers import flip_byte

MANIFEST = load_manifest()
DEFAULT = MANIFEST.pack("default")
pytestmark = pytest.mark.shared


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_fetch_from_mirror_then_verify(
    models_mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "models"
    assert main(["models", "fetch", "--from", str(models_mirror), "--dir", str(dest)]) == 0
    out = capsys.readouterr().out
    assert out.count("installed") == 4 and "4 verified, 0 failed" in out
    assert sorted(p.name for p in dest.iterdir()) == sorted(e.file for e in DEFAULT.models)
    assert all((dest / e.file).stat().st_mode & 0o444 == 0o444 for e in DEFAULT.models)
    assert main(["models", "verify", "--dir", str(dest)]) == 0
    assert "pack 'default': OK" in capsys.readouterr().out
    # A second fetch finds everything in place and copies nothing.
    assert main(["models", "fetch", "--from", str(models_mirror), "--dir", str(dest)]) == 0
    assert capsys.readouterr().out.count("present") == 4
    assert resolve_pack(ModelsConfig(dir=dest)).embedder == dest / DEFAULT.embedder.file


def test_fetch_uses_the_mirror_env(
    models_mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MIRROR_ENV, str(models_mirror))
    assert main(["models", "fetch", "--pack", "dlib", "--dir", str(tmp_path)]) == 0
    assert (tmp_path / "dlib_face_recognition_float.onnx").is_file()


def test_corrupted_mirror_copy_is_refused_and_not_left(
    models_mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_mirror = tmp_path / "mirror"
    bad_mirror.mkdir()
    for entry in DEFAULT.models:
        shutil.copyfile(models_mirror / entry.file, bad_mirror / entry.file)
    flip_byte(bad_mirror / "MiniFASNetV2.onnx")
    dest = tmp_path / "models"
    assert main(["models", "fetch", "--from", str(bad_mirror), "--dir", str(dest)]) == 1
    captured = capsys.readouterr()
    assert "failed" in captured.err and "MiniFASNetV2.onnx" in captured.err
    assert MANIFEST.model("minifasnet_v2").sha256 in captured.err
    assert "nothing was installed" in captured.err
    assert not (dest / "MiniFASNetV2.onnx").exists()
    assert _leftovers(dest) == []
    assert "3 verified, 1 failed" in captured.out  # the good files were still installed


def test_bad_file_in_place_is_replaced_by_a_verified_copy(
    models_mirror: Path, tmp_path: Path
) -> None:
    assert main(["models", "fetch", "--from", str(models_mirror), "--dir", str(tmp_path)]) == 0
    target = tmp_path / DEFAULT.detector.file
    flip_byte(target)
    assert main(["models", "verify", "--dir", str(tmp_path)]) == 1
    assert main(["models", "fetch", "--from", str(models_mirror), "--dir", str(tmp_path)]) == 0
    assert main(["models", "verify", "--dir", str(tmp_path)]) == 0


def test_verify_json_reports_ok_missing_and_mismatch(
    models_mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "fetch", "--from", str(models_mirror), "--dir", str(tmp_path)]) == 0
    flip_byte(tmp_path / "faceapi_face_recognition.onnx")
    (tmp_path / "MiniFASNetV1SE.onnx").unlink()
    capsys.readouterr()
    assert main(["models", "verify", "--json", "--dir", str(tmp_path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"pack", "dir", "ok", "files"}
    assert (report["pack"], report["dir"], report["ok"]) == ("default", str(tmp_path), False)
    keys = {"id", "role", "file", "path", "status", "expected_sha256", "actual_sha256"}
    assert all(set(item) == keys for item in report["files"])
    status = {item["id"]: item["status"] for item in report["files"]}
    assert status == {
        "yunet_2026may": "ok",
        "faceapi_face_recognition": "mismatch",
        "minifasnet_v2": "ok",
        "minifasnet_v1se": "missing",
    }
    mismatch = next(i for i in report["files"] if i["status"] == "mismatch")
    assert mismatch["actual_sha256"] not in mismatch["expected_sha256"]


def test_research_fetch_needs_the_licence_in_the_config(
    models_mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["models", "fetch", "--pack", "research", "--from", str(models_mirror)]
    assert main([*args, "--dir", str(tmp_path / "a")]) == 1
    assert 'accept_licence = ["insightface-non-commercial"]' in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[models]\ndir = "{tmp_path / "b"}"\naccept_licence = ["insightface-non-commercial"]\n'
    )
    assert main([*args, "--config", str(config)]) == 0
    assert (tmp_path / "b" / "det_500m.onnx").is_file()


def test_export_model_without_mirror_says_to_use_one(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"no official ONNX download.*--from DIR"):
        fetch_model(MANIFEST.model("dlib_face_recognition_float"), tmp_path, mirror=None)
    assert list(tmp_path.iterdir()) == []


def test_list_shows_packs_and_licence_gate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("default", "sface", "dlib", "research"):
        assert f" {name} " in out
    assert "needs accept_licence: insightface-non-commercial" in out
    assert "faceapi_face_recognition.onnx" in out


def test_unknown_pack_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "verify", "--pack", "nope"]) == 2
    assert "no pack 'nope'" in capsys.readouterr().err
