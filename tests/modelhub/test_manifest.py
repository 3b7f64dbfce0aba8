"""The shipped manifest: it parses, its packs are consistent, and it pins the mirror's bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gateway
from gateway.modelhub import ManifestError, load_manifest
from gateway.modelhub.integrity import sha256_file
from gateway.modelhub.manifest import default_manifest_path

MANIFEST = load_manifest()
# Embedders `menwei eval calibrate` has measured (thresholds and figures in the manifest).
CALIBRATED_EMBEDDERS = ("faceapi_face_recognition", "mobilefacenet_faceplugin")


def test_default_path_is_the_package_models_folder() -> None:
    expected = Path(gateway.__file__).resolve().parent / "models" / "manifest.toml"
    assert default_manifest_path() == expected
    assert MANIFEST.path == expected


def test_packs_have_the_agreed_composition() -> None:
    default = MANIFEST.pack("default")
    assert default.detector.file == "face_detection_yunet_2026may.onnx"  # built from 2023mar
    assert default.embedder.file == "faceapi_face_recognition.onnx"
    assert [e.file for e in default.liveness] == ["MiniFASNetV2.onnx", "MiniFASNetV1SE.onnx"]
    assert MANIFEST.pack("sface").embedder.file == "face_recognition_sface_2021dec.onnx"
    assert MANIFEST.pack("dlib").embedder.file == "dlib_face_recognition_float.onnx"
    assert MANIFEST.pack("research").detector.file == "det_500m.onnx"
    for name in ("default", "sface", "dlib"):
        for entry in MANIFEST.pack(name).models:
            assert MANIFEST.licences[entry.licence].commercial, (name, entry.id)
    assert not MANIFEST.licences[MANIFEST.pack("research").detector.licence].commercial


def test_unknown_pack_names_the_known_ones() -> None:
    with pytest.raises(ManifestError, match=r"no pack 'nope'.*default"):
        MANIFEST.pack("nope")


def test_preprocessing_is_typed() -> None:
    embedder = MANIFEST.pack("default").embedder.preprocess
    assert embedder.input_size == (150, 150)
    assert embedder.color_order == "RGB"
    assert embedder.alignment == "similarity_5pt"
    assert embedder.template is not None and len(embedder.template) == 5
    assert embedder.output_size == 128
    v2, v1se = MANIFEST.pack("default").liveness
    assert (v2.preprocess.crop_scale, v1se.preprocess.crop_scale) == (2.7, 4.0)
    assert v2.preprocess.color_order == "BGR" and v2.preprocess.output_size == 3
    assert MANIFEST.pack("default").detector.preprocess.template is None
    sface = MANIFEST.model("sface_2021dec").preprocess
    assert (sface.alignment, sface.input_size) == ("arcface_norm_crop", (112, 112))


def test_embedder_thresholds_are_calibrated_or_fail_closed() -> None:
    """Only the measured embedder has thresholds; the others stay nan (matching refuses to run).
    Stricter uses never have looser thresholds than resident matching."""
    for entry in MANIFEST.models.values():
        if entry.role != "embedder":
            assert entry.thresholds is None
            continue
        thresholds = entry.thresholds
        assert thresholds is not None
        if entry.id not in CALIBRATED_EMBEDDERS:
            assert not thresholds.calibrated  # nan in the TOML: fail closed until measured
            continue
        assert thresholds.calibrated
        resident = thresholds.similarity_threshold
        assert resident is not None and thresholds.watchlist_threshold is not None
        assert thresholds.small_gallery_threshold is not None
        assert thresholds.watchlist_threshold >= resident
        assert thresholds.small_gallery_threshold >= resident
        if thresholds.fusion_agreement is not None:  # frames fuse below the threshold
            assert -1.0 <= thresholds.fusion_agreement < resident


def test_converted_embedder_names_its_npm_source() -> None:
    source = MANIFEST.model("faceapi_face_recognition").source
    assert source.kind == "npm"
    assert (source.package, source.version) == ("@vladmandic/face-api", "1.7.15")
    assert dict(source.files).keys() == {
        "model/face_recognition_model-weights_manifest.json",
        "model/face_recognition_model.bin",
    }
    assert source.built_sha256 is not None
    entry = MANIFEST.model("faceapi_face_recognition")
    assert entry.accepted_sha256 == (entry.sha256, source.built_sha256)


@pytest.mark.shared
def test_every_mirror_file_matches_its_pin(models_mirror: Path) -> None:
    sums = dict(
        reversed(line.split()) for line in (models_mirror / "SHA256SUMS").read_text().splitlines()
    )
    in_mirror = [e for e in MANIFEST.models.values() if (models_mirror / e.file).exists()]
    assert {e.file for e in in_mirror} == set(sums)  # every mirror file is in the manifest
    for entry in in_mirror:
        path = models_mirror / entry.file
        digest = sha256_file(path)
        assert digest == sums[entry.file], entry.file
        # the pinned file, or (bundled MiniFASNets) the mirror's earlier build of the same weights
        assert digest in (entry.sha256, entry.source.mirror_sha256), entry.file
        if digest == entry.sha256:
            assert path.stat().st_size == entry.size, entry.file
    assert not (models_mirror / MANIFEST.model("sface_2021dec").file).exists()


@pytest.mark.shared
def test_templates_match_the_shared_specs(models_mirror: Path) -> None:
    faceapi = json.loads((models_mirror / "specs/faceapi_face_recognition.spec.json").read_text())
    dlib = json.loads((models_mirror / "specs/dlib_face_recognition_float.spec.json").read_text())
    spec_points = {
        "faceapi_face_recognition": faceapi["recommended"]["alignment"]["dst_template"],
        "dlib_face_recognition_float": dlib["recommended"]["alignment"]["dst_points_150"],
    }
    for model_id, points in spec_points.items():
        template = MANIFEST.model(model_id).preprocess.template
        assert template == tuple(tuple(p) for p in points)
    assert MANIFEST.model("faceapi_face_recognition").sha256 == faceapi["sha256"]


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = default_manifest_path().read_text()
    assert old in text
    path = tmp_path / "manifest.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('role = "detector"', 'role = "detecter"', r"models\.yunet_2023mar\.role"),
        ('embedder = "sface_2021dec"', 'embedder = "sface_2099"', r"packs\.sface: unknown model"),
        ('detector = "det_500m"', 'detector = "minifasnet_v2"', "is a liveness, not a detector"),
        ('sha256 = "8f2383e4', 'sha256 = "8F2383E4', r"yunet_2023mar\.sha256"),
        ("similarity_threshold = nan", "similarity_threshold = 1.5", r"outside \[-1, 1\]"),
        ('licence = "MIT"', 'licence = "WTFPL"', "not in \\[licences\\]"),
        ('alignment = "minivision_crop"', 'alignment = "magic"', r"alignment: 'magic'"),
    ],
)
def test_malformed_manifest_is_refused_by_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(ManifestError, match=message):
        load_manifest(_broken(tmp_path, old, new))


def test_fusion_agreement_is_read_where_calibrated_and_absent_elsewhere() -> None:
    """mobilefacenet fuses frames agreeing at its calibrated 0.55; the default pack's embedder sets
    none, so its frames fuse at its threshold (gateway.vision.decision)."""
    fused = MANIFEST.model("mobilefacenet_faceplugin").thresholds
    assert fused is not None and fused.fusion_agreement == pytest.approx(0.55)
    default = MANIFEST.model("faceapi_face_recognition").thresholds
    assert default is not None and default.fusion_agreement is None
