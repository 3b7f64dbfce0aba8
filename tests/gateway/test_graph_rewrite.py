"""The load-time graph rewrites change speed, not numbers: PRelu as NCHWc convolutions gives
bit-identical outputs (slopes below 0 and above 1 included), channels padded to the NCHWc block
give the same outputs within 1e-5 (summation order only), and a freed batch gives each crop of a
batch the number it gets alone; graphs the rewrites do not understand are left untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from gateway.vision.graph_rewrite import (
    NCHWC_BLOCK,
    free_batch,
    pad_channels,
    prelu_as_convolutions,
)
from gateway.vision.onnx_session import NCHWC_CPU, model_source, session_options


def _run(model: onnx.ModelProto | str | bytes, inputs: np.ndarray) -> np.ndarray:
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    session = ort.InferenceSession(source, session_options(1), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.asarray(session.run(None, {name: inputs})[0])


def _conv_prelu(channels: int, *, reshape_to: list[int] | None = None) -> onnx.ModelProto:
    """input (1, 3, 8, 8) -> Conv 3x3 -> PRelu with slopes from -1.5 to 1.5 [-> Reshape]."""
    rng = np.random.default_rng(channels)
    weights = rng.standard_normal((channels, 3, 3, 3)).astype(np.float32)
    slopes = np.linspace(-1.5, 1.5, channels, dtype=np.float32).reshape(channels, 1, 1)
    nodes = [
        helper.make_node("Conv", ["input", "w"], ["conv"], kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("PRelu", ["conv", "slope"], ["prelu"]),
    ]
    initializers = [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(slopes, "slope")]
    output_shape: list[int] = [1, channels, 8, 8]
    output = "prelu"
    if reshape_to is not None:
        initializers.append(numpy_helper.from_array(np.array(reshape_to, np.int64), "shape"))
        nodes.append(helper.make_node("Reshape", ["prelu", "shape"], ["flat"]))
        output, output_shape = "flat", [1, channels * 64]
    graph = helper.make_graph(
        nodes,
        "conv_prelu",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, output_shape)],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_prelu_rewrite_is_bit_identical_for_any_slope() -> None:
    original = _conv_prelu(2 * NCHWC_BLOCK)
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(original)
    assert prelu_as_convolutions(rewritten) == 1
    assert "PRelu" not in {node.op_type for node in rewritten.graph.node}
    onnx.checker.check_model(rewritten)
    inputs = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32) * 10
    expected = _run(original, inputs)
    assert (expected < 0).any() and (expected > 0).any()
    np.testing.assert_array_equal(_run(rewritten, inputs), expected)


def test_prelu_left_alone_when_channels_miss_the_nchwc_block() -> None:
    model = _conv_prelu(NCHWC_BLOCK + 3)
    assert prelu_as_convolutions(model) == 0
    assert "PRelu" in {node.op_type for node in model.graph.node}


def _pruned_block(channels: int) -> onnx.ModelProto:
    """MiniFASNet's block: Conv 1x1 (16 -> channels) -> PRelu -> depthwise 3x3 -> PRelu ->
    Conv 1x1 (channels -> 16), every weight and bias non-zero."""
    rng = np.random.default_rng(channels)

    def tensor(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.uniform(-1, 1, shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], kernel_shape=[1, 1]),
        helper.make_node("PRelu", ["c1", "s1"], ["p1"]),
        helper.make_node(
            "Conv", ["p1", "wd", "bd"], ["cd"], kernel_shape=[3, 3], pads=[1] * 4, group=channels
        ),
        helper.make_node("PRelu", ["cd", "s2"], ["p2"]),
        helper.make_node("Conv", ["p2", "w2", "b2"], ["output"], kernel_shape=[1, 1]),
    ]
    initializers = [
        tensor("w1", channels, 16, 1, 1),
        tensor("b1", channels),
        tensor("s1", channels, 1, 1),
        tensor("wd", channels, 1, 3, 3),
        tensor("bd", channels),
        tensor("s2", channels, 1, 1),
        tensor("w2", 16, channels, 1, 1),
        tensor("b2", 16),
    ]
    graph = helper.make_graph(
        nodes,
        "pruned_block",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 16, 10, 10])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 16, 10, 10])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_pruned_channels_padded_to_the_block_give_the_same_numbers() -> None:
    original = _pruned_block(13)
    padded = onnx.ModelProto()
    padded.CopyFrom(original)
    assert pad_channels(padded) == 1
    onnx.checker.check_model(padded)
    widths = {t.name: tuple(t.dims) for t in padded.graph.initializer}
    assert widths["w1"] == (NCHWC_BLOCK, 16, 1, 1) and widths["w2"] == (16, NCHWC_BLOCK, 1, 1)
    assert prelu_as_convolutions(padded) == 2  # now on the block: both PRelu rewritten
    inputs = np.random.default_rng(4).uniform(-5, 5, (1, 16, 10, 10)).astype(np.float32)
    np.testing.assert_allclose(_run(padded, inputs), _run(original, inputs), rtol=0, atol=1e-5)


def test_channels_read_elsewhere_are_not_padded() -> None:
    model = _pruned_block(13)
    model.graph.output.append(helper.make_tensor_value_info("p1", TensorProto.FLOAT, None))
    assert pad_channels(model) == 0


def test_free_batch_gives_each_crop_its_own_number() -> None:
    model = _conv_prelu(NCHWC_BLOCK, reshape_to=[1, -1])
    singles = np.random.default_rng(1).standard_normal((3, 1, 3, 8, 8)).astype(np.float32)
    alone = np.concatenate([_run(model, crop) for crop in singles])
    assert free_batch(model)
    batched = _run(model, singles.reshape(3, 3, 8, 8))
    assert batched.shape == (3, NCHWC_BLOCK * 64)
    np.testing.assert_allclose(batched, alone, rtol=0, atol=1e-5)


def test_free_batch_refuses_an_operation_that_may_mix_the_batch() -> None:
    model = _conv_prelu(NCHWC_BLOCK, reshape_to=[1, -1])
    model.graph.node.insert(0, helper.make_node("Transpose", ["input"], ["t"], perm=[1, 0, 2, 3]))
    model.graph.node[1].input[0] = "t"
    assert not free_batch(model)


def test_free_batch_refuses_a_reshape_it_cannot_read() -> None:
    model = _conv_prelu(NCHWC_BLOCK, reshape_to=[-1, NCHWC_BLOCK * 64])
    before = model.SerializeToString()
    assert not free_batch(model)
    assert model.SerializeToString() == before


SHIPPED = [
    ("MiniFASNetV2.onnx", (1, 3, 80, 80)),
    ("MiniFASNetV1SE.onnx", (1, 3, 80, 80)),
]


@pytest.mark.skipif(not NCHWC_CPU, reason="the NCHWc rewrites apply on x86-64 only")
@pytest.mark.parametrize(("file", "shape"), SHIPPED)
def test_liveness_models_give_the_same_numbers_rewritten(
    models_mirror: Path, file: str, shape: tuple[int, ...]
) -> None:
    path = models_mirror / file
    source = model_source(path)
    assert isinstance(source, bytes)
    rewritten = onnx.load_from_string(source)
    assert "PRelu" not in {node.op_type for node in rewritten.graph.node}  # all padded, rewritten
    for seed in range(4):
        inputs = np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)
        np.testing.assert_allclose(_run(source, inputs), _run(str(path), inputs), rtol=0, atol=1e-5)


def test_mobilefacenet_rewritten_and_batched_gives_the_same_numbers(
    models_mirror: Path, tmp_path: Path
) -> None:
    from tests.modelhub.helpers import install_mobilefacenet

    path = install_mobilefacenet(models_mirror, tmp_path) / "mobilefacenet_faceplugin.onnx"
    source = model_source(path, batch=True)
    assert isinstance(source, bytes)
    rewritten = onnx.load_from_string(source)
    assert not NCHWC_CPU or "PRelu" not in {node.op_type for node in rewritten.graph.node}
    crops = np.random.default_rng(3).uniform(-1, 1, (2, 1, 3, 112, 112)).astype(np.float32)
    alone = np.concatenate([_run(str(path), crop) for crop in crops])
    batched = _run(source, crops.reshape(2, 3, 112, 112))
    assert batched.shape == (2, 512)
    np.testing.assert_allclose(batched, alone, rtol=0, atol=1e-5)


def test_mobilefacenet_embedder_runs_the_flip_pair_in_one_call(
    models_mirror: Path, tmp_path: Path
) -> None:
    from gateway.vision.embedder import EmbedderSpec, FaceEmbedder
    from tests.modelhub.helpers import install_mobilefacenet

    path = install_mobilefacenet(models_mirror, tmp_path) / "mobilefacenet_faceplugin.onnx"
    spec = EmbedderSpec("mobilefacenet_faceplugin", "BGR", (127.5,) * 3, (128.0,) * 3)
    tuned, previous = FaceEmbedder(path, spec), FaceEmbedder(path, spec, tuned=False)
    assert not tuned.single_batch and previous.single_batch
    crops = list(np.random.default_rng(5).integers(0, 256, (3, 112, 112, 3), dtype=np.uint8))
    np.testing.assert_allclose(tuned.embed(crops), previous.embed(crops), rtol=0, atol=1e-5)
