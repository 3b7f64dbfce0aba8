"""Bad input never crashes the pipeline and never grants: each case gets a clear result or error."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from gateway.config.model import VisionConfig
from gateway.gallery import Gallery
from gateway.vision.decision import Verdict
from gateway.vision.embedder import EmbedderSpec, FaceEmbedder
from gateway.vision.errors import ImageDecodeError, ModelOutputError
from gateway.vision.factory import PipelineModels, build_pipeline
from gateway.vision.image_io import decode_image, read_image
from gateway.vision.liveness import LivenessChecker, LivenessModel
from gateway.vision.pipeline import FaceAnalysis, FacePipeline
from gateway.vision.recogniser import Recogniser, rule_from_config

FACE = "deepface_unit/images/img1.jpg"


def _encode(image: np.ndarray, ext: str = ".png") -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


@pytest.fixture(scope="module")
def face_frame(faces_dir: Path) -> np.ndarray:
    return read_image(faces_dir / FACE, max_side=640)


@pytest.fixture
def recogniser(pipeline: FacePipeline, face_frame: np.ndarray) -> Recogniser:
    """A recogniser whose gallery holds the person in FACE: a grant would be possible."""
    gallery = Gallery(pipeline.model_id, pipeline.embedder.dimension)
    [face] = pipeline.analyse(face_frame, max_faces=1, check_liveness=False)
    assert face.embedding is not None
    gallery.add("resident", face.embedding, pipeline.model_id)
    rule = rule_from_config(pipeline.config, similarity_threshold=0.93)
    return Recogniser(pipeline, gallery, None, rule, watchlist_threshold=0.95)


def _never_grants(recogniser: Recogniser, frame: np.ndarray, frames: int = 4) -> int:
    """Run `frames` frames; no face may be granted. Returns how many faces were judged, so a
    caller can require that the check was not vacuous (no face found, nothing to grant)."""
    judged = 0
    for _ in range(frames):
        for result in recogniser.process(frame):
            judged += 1
            assert result.decision.verdict is not Verdict.GRANT
            assert not result.newly_granted
    return judged


def test_the_fixture_recogniser_grants_the_whole_face(
    recogniser: Recogniser, face_frame: np.ndarray
) -> None:
    """The control for every `_never_grants` below: this recogniser does grant FACE itself."""
    verdicts = [r.decision.verdict for _ in range(6) for r in recogniser.process(face_frame)]
    assert Verdict.GRANT in verdicts


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"this is not an image at all", "not a decodable image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a decodable image"),
    ],
)
def test_undecodable_bytes_are_refused_clearly(data: bytes, reason: str) -> None:
    with pytest.raises(ImageDecodeError, match=reason):
        decode_image(data, name="upload.jpg")


def test_truncated_jpeg_is_refused_or_decoded_partially(face_frame: np.ndarray) -> None:
    data = _encode(face_frame, ".jpg")
    with pytest.raises(ImageDecodeError):
        decode_image(data[:200])
    for fraction in (0.25, 0.5, 0.75, 0.95):
        # Cut late, a decoder may return the image with a padded tail; either way nothing else
        # than ImageDecodeError may escape, and a decoded frame has the full, valid shape.
        try:
            partial = decode_image(data[: int(len(data) * fraction)])
        except ImageDecodeError as error:
            assert "not a decodable image" in str(error)
        else:
            assert partial.shape == face_frame.shape and partial.dtype == np.uint8


def test_missing_and_directory_paths(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match="cannot read"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageDecodeError, match="cannot read"):
        read_image(tmp_path)
    (tmp_path / "zero.jpg").write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="empty"):
        read_image(tmp_path / "zero.jpg")


def test_grey_16bit_and_alpha_images_become_bgr8(face_frame: np.ndarray) -> None:
    grey = cv2.cvtColor(face_frame, cv2.COLOR_BGR2GRAY)
    deep = face_frame.astype(np.uint16) * 257
    alpha = cv2.cvtColor(face_frame, cv2.COLOR_BGR2BGRA)
    for image in (grey, deep, alpha):
        decoded = decode_image(_encode(image))
        assert decoded.shape == face_frame.shape and decoded.dtype == np.uint8
    assert np.abs(decode_image(_encode(deep)).astype(int) - face_frame).max() <= 1


def test_huge_image_is_downscaled_and_still_works(
    recogniser: Recogniser, face_frame: np.ndarray
) -> None:
    canvas = np.full((8000, 8000, 3), 120, np.uint8)
    canvas[:2000, :2000] = cv2.resize(face_frame, (2000, 2000))
    decoded = decode_image(_encode(canvas, ".jpg"))
    assert max(decoded.shape[:2]) == 2048
    results = recogniser.process(decoded)
    assert len(results) >= 1


def test_no_face_gives_no_result(recogniser: Recogniser) -> None:
    blank = np.full((480, 640, 3), 90, np.uint8)
    noise = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    assert recogniser.process(blank) == []
    assert _never_grants(recogniser, noise) == 0  # noise holds no face to judge


def test_many_faces_are_all_handled(pipeline: FacePipeline, faces_dir: Path) -> None:
    """Twelve people in one frame: each tile's face is found (not one face twelve times), and
    each one the gate lets through is embedded like the same face analysed alone."""
    paths = sorted((faces_dir / "lfw/images").glob("*/*.jpg"))[:12]
    tiles = [cv2.resize(read_image(p), (160, 160)) for p in paths]
    grid = np.vstack([np.hstack(tiles[row * 4 : row * 4 + 4]) for row in range(3)])
    analyses = pipeline.analyse(grid, max_faces=20)
    by_tile: dict[int, list[FaceAnalysis]] = {}
    for analysis in analyses:
        x, y, w, h = analysis.detection.box
        by_tile.setdefault(int((y + h / 2) // 160) * 4 + int((x + w / 2) // 160), []).append(
            analysis
        )
    assert len(by_tile) >= 10  # faces found in at least 10 of the 12 tiles
    embedded = 0
    for tile, found in by_tile.items():
        central = max(found, key=lambda a: a.detection.box[2] * a.detection.box[3])
        if not central.usable:
            continue
        [alone] = pipeline.analyse(tiles[tile], max_faces=1, check_liveness=False)
        assert alone.usable and central.embedding is not None and alone.embedding is not None
        assert float(np.dot(central.embedding, alone.embedding)) > 0.8  # the same person
        embedded += 1
    assert embedded >= 8


def test_face_cut_by_the_frame_edge_never_grants(
    recogniser: Recogniser, pipeline: FacePipeline, face_frame: np.ndarray
) -> None:
    [face] = pipeline.detect(face_frame)[:1]
    cut_x = int(face.landmarks[0][0] + face.landmarks[1][0]) // 2  # through the nose
    assert _never_grants(recogniser, np.ascontiguousarray(face_frame[:, cut_x:])) > 0


def _nan_model(path: Path, input_shape: list[object], output_size: int) -> Path:
    """A real ONNX graph whose output is all NaN (0/0), to test the guard rails end to end; with
    `output_size` 0 its output is empty ([N, 0])."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [input_shape[0], output_size])
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Sub", ["m", "m"], ["zero"]),
        helper.make_node("Div", ["zero", "zero"], ["nan"]),
        helper.make_node("Unsqueeze", ["nan", "axes"], ["col"]),
        helper.make_node("Tile", ["col", "reps"], ["out"]),
    ]
    inits = [
        helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
        helper.make_tensor("reps", TensorProto.INT64, [2], [1, output_size]),
    ]
    graph = helper.make_graph(nodes, "nan", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_nan_embedding_is_an_error_not_a_match(
    tmp_path: Path, pipeline_models: PipelineModels, face_frame: np.ndarray
) -> None:
    model = _nan_model(tmp_path / "nan_embedder.onnx", ["N", 3, 150, 150], 128)
    embedder = FaceEmbedder(model, EmbedderSpec("nan-model"))
    with pytest.raises(ModelOutputError):
        embedder.embed_one(np.zeros((150, 150, 3), np.uint8))
    broken = PipelineModels(
        **{
            **pipeline_models.__dict__,
            "embedder": model,
            "embedder_spec": EmbedderSpec("nan-model"),
        }
    )
    pipeline = build_pipeline(broken, VisionConfig())
    [face] = pipeline.analyse(face_frame, max_faces=1)
    assert not face.usable and face.error is not None and "embed" in face.error


@pytest.mark.parametrize(("output_size", "name"), [(128, "nan-model"), (0, "empty-model")])
def test_nan_or_empty_embeddings_never_grant_and_are_counted_and_logged(
    tmp_path: Path,
    pipeline_models: PipelineModels,
    face_frame: np.ndarray,
    output_size: int,
    name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = _nan_model(tmp_path / f"{name}.onnx", ["N", 3, 150, 150], output_size)
    with pytest.raises(ModelOutputError):
        FaceEmbedder(model, EmbedderSpec(name)).embed_one(np.zeros((150, 150, 3), np.uint8))
    broken = PipelineModels(
        **{**pipeline_models.__dict__, "embedder": model, "embedder_spec": EmbedderSpec(name)}
    )
    pipeline = build_pipeline(broken, VisionConfig())
    gallery = Gallery(name, max(output_size, 1))
    gallery.add("resident", np.ones(max(output_size, 1)), name)  # anyone would match it
    rule = rule_from_config(pipeline.config, similarity_threshold=0.0)
    recogniser = Recogniser(pipeline, gallery, None, rule, watchlist_threshold=0.5)
    with caplog.at_level(logging.ERROR, logger="gateway.vision.pipeline"):
        for _ in range(12):
            for result in recogniser.process(face_frame):
                assert not result.analysis.usable and result.analysis.error is not None
                assert result.match is None and result.decision.verdict is not Verdict.GRANT
    assert pipeline.errors["embed"] == 12  # counted per face
    logged = [r for r in caplog.records if "embed failed" in r.getMessage()]
    assert len(logged) == 2  # the 1st and the 10th time, not every frame


def test_a_template_of_another_model_or_an_invalid_one_is_refused_logged_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gallery = Gallery("mobilefacenet_faceplugin", 4)
    with caplog.at_level(logging.ERROR, logger="gateway.gallery.matrix"):
        assert not gallery.add_or_refuse("a", np.ones(4), "faceapi_face_recognition")
        assert not gallery.add_or_refuse("b", np.zeros(4), "mobilefacenet_faceplugin")
        assert not gallery.add_or_refuse("c", np.full(4, np.nan), "mobilefacenet_faceplugin")
        assert not gallery.add_or_refuse("d", np.ones(0), "mobilefacenet_faceplugin")
        assert gallery.add_or_refuse("e", np.ones(4), "mobilefacenet_faceplugin")
    assert gallery.refused == {"other_model": 1, "invalid": 3}
    assert len(caplog.records) == 4 and "faceapi_face_recognition" in caplog.records[0].message
    assert gallery.identities == {"e"}
    with pytest.raises(ValueError, match="non-finite"):
        gallery.search(np.full(4, np.nan))  # a NaN probe is never searched


def test_nan_liveness_is_an_error_not_a_pass(tmp_path: Path, face_frame: np.ndarray) -> None:
    model = _nan_model(tmp_path / "nan_liveness.onnx", [1, 3, 80, 80], 3)
    checker = LivenessChecker([LivenessModel(model, 2.7)])
    with pytest.raises(ModelOutputError):
        checker.check(face_frame, (100.0, 100.0, 80.0, 80.0))
