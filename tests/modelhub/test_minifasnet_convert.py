"""The .pth -> ONNX converter: it rebuilds the bundled MiniFASNet files byte for byte from the
official checkpoints, equals the mirror's earlier export on real faces, and refuses truncated,
incomplete or code-running checkpoints."""

from __future__ import annotations

import csv
import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from numpy.typing import NDArray

from gateway.modelhub import load_manifest
from gateway.modelhub.manifest import bundled_models_dir
from gateway.modelhub.minifasnet_convert import CheckpointLayoutError, convert_checkpoint
from gateway.modelhub.torch_checkpoint import CheckpointError, read_state_dict
from gateway.vision.detector import YuNetDetector
from gateway.vision.liveness import minivision_crop_box
from tests.conftest import require_shared
from tests.modelhub.torch_writer import legacy_checkpoint, zip_checkpoint

MANIFEST = load_manifest()
CHECKPOINTS = {
    "minifasnet_v2": "2.7_80x80_MiniFASNetV2.pth",
    "minifasnet_v1se": "4_0_0_80x80_MiniFASNetV1SE.pth",
}


@pytest.fixture(scope="module")
def official() -> dict[str, bytes]:
    """The official checkpoints, exactly as minivision publishes them (../shared upstream/)."""
    folder = require_shared("models", "upstream")
    return {model: (folder / name).read_bytes() for model, name in CHECKPOINTS.items()}


def _session(model: bytes | str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def real_face_crops(faces_dir: Path, scale: float, count: int = 16) -> list[NDArray[np.float32]]:
    """Liveness crops (minivision's box x scale, 80x80 BGR) of live and attack frames."""
    with (faces_dir / "antispoof" / "manifest.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["path"].startswith("antispoof/nuaa_raw")]
    rows = rows[:: max(1, len(rows) // count)][:count]
    detector = YuNetDetector(bundled_models_dir() / MANIFEST.model("yunet_2023mar").file)
    crops = []
    for row in rows:
        frame = cv2.imread(str(faces_dir / row["path"]))
        faces = detector.detect(frame)
        if not faces:
            continue
        face = max(faces, key=lambda f: f.box[2] * f.box[3])
        left, top, right, bottom = minivision_crop_box(
            frame.shape[1], frame.shape[0], face.box, scale
        )
        patch = cv2.resize(frame[top : bottom + 1, left : right + 1], (80, 80))
        crops.append(patch.transpose(2, 0, 1)[np.newaxis].astype(np.float32))
    return crops


def test_built_onnx_is_the_bundled_file(official: dict[str, bytes]) -> None:
    for model_id, checkpoint in official.items():
        entry = MANIFEST.model(model_id)
        assert hashlib.sha256(checkpoint).hexdigest() == entry.source.upstream_sha256
        built = convert_checkpoint(checkpoint)
        assert built == convert_checkpoint(checkpoint)  # deterministic
        assert hashlib.sha256(built).hexdigest() == entry.sha256
        assert built == (bundled_models_dir() / entry.file).read_bytes()
        assert len(built) == entry.size


@pytest.mark.shared
def test_outputs_equal_the_mirror_export_on_real_faces(
    official: dict[str, bytes], models_mirror: Path, faces_dir: Path
) -> None:
    for model_id, checkpoint in official.items():
        entry = MANIFEST.model(model_id)
        ours = _session(convert_checkpoint(checkpoint))
        export = models_mirror / entry.file
        assert hashlib.sha256(export.read_bytes()).hexdigest() == entry.source.mirror_sha256
        theirs = _session(str(export))
        assert entry.preprocess.crop_scale is not None
        crops = real_face_crops(faces_dir, entry.preprocess.crop_scale)
        assert len(crops) >= 10
        decisions = set()
        for crop in crops:
            a = ours.run(["output"], {"input": crop})[0]
            b = theirs.run(None, {"input": crop})[0]
            assert a.shape == b.shape == (1, 3)
            assert np.abs(a - b).max() <= 1e-5, model_id
            assert a.argmax() == b.argmax()
            decisions.add(int(a.argmax()))
        assert 1 in decisions  # real faces are called real: the comparison is not on noise


def test_the_zip_layout_gives_the_same_network(official: dict[str, bytes]) -> None:
    checkpoint = official["minifasnet_v1se"]
    tensors = read_state_dict(checkpoint)
    assert len(tensors) == 370 and tensors["module.prob.weight"].shape == (3, 128)
    expected = convert_checkpoint(checkpoint)
    assert convert_checkpoint(zip_checkpoint(tensors)) == expected
    assert convert_checkpoint(legacy_checkpoint(tensors)) == expected


def _without(tensors: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in tensors.items() if key != name}


def test_a_missing_extra_or_misshapen_tensor_is_refused(official: dict[str, bytes]) -> None:
    tensors = read_state_dict(official["minifasnet_v2"])
    missing = "module.conv_4.model.2.conv_dw.bn.running_var"
    with pytest.raises(CheckpointLayoutError, match=r"conv_4\.model\.2\.conv_dw\.bn\.running_var"):
        convert_checkpoint(legacy_checkpoint(_without(tensors, missing)))
    with pytest.raises(CheckpointLayoutError, match=r"does not use.*head\.weight"):
        convert_checkpoint(legacy_checkpoint({**tensors, "module.head.weight": np.ones(3, "f4")}))
    wrong = {**tensors, "module.conv1.prelu.weight": np.ones(31, "f4")}
    with pytest.raises(CheckpointLayoutError, match=r"conv1\.prelu\.weight"):
        convert_checkpoint(legacy_checkpoint(wrong))


def test_a_truncated_checkpoint_is_refused(official: dict[str, bytes]) -> None:
    checkpoint = official["minifasnet_v2"]
    zipped = zip_checkpoint(read_state_dict(checkpoint))
    for data in (checkpoint, zipped):
        for cut in (3, 40, 200, len(data) // 3, len(data) - 4096, len(data) - 1):
            with pytest.raises(CheckpointError):
                convert_checkpoint(data[:cut])
    with pytest.raises(CheckpointError, match="truncated"):
        convert_checkpoint(checkpoint[:-1])


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_whose_pickle_runs_code_is_refused_unrun(
    official: dict[str, bytes], tmp_path: Path
) -> None:
    marker = tmp_path / "code-ran"
    evil = pickle.dumps(_RunsCode(marker), protocol=2)
    headers = b"".join(
        pickle.dumps(h, protocol=2) for h in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True})
    )
    for data in (evil + official["minifasnet_v2"], headers + evil):
        with pytest.raises(CheckpointError, match=r"asks for (posix|os)\.system.*refused"):
            convert_checkpoint(data)
    evil_eval = pickle.dumps(_Eval(), protocol=2)
    with pytest.raises(CheckpointError, match=r"(__builtin__|builtins)\.eval"):
        convert_checkpoint(headers + evil_eval)
    assert not marker.exists()


class _Eval:
    def __reduce__(self) -> tuple[Any, ...]:
        return (eval, ("1 + 1",))
