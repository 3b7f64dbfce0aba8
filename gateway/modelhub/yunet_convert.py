"""Build the dynamic-input YuNet from the bundled (OpenCV Zoo) `face_detection_yunet_2023mar.onnx`.

The Zoo file declares a fixed input [1, 3, 640, 640], so a 640x480 camera frame is padded to
640x640 and a third of the network's work is spent on black rows. Its graph has nothing that
depends on the input size: the three heads are flattened by Reshape with a -1 dimension and the
two upsamplings use fixed scale factors. Only the declared shapes pin it, so this converter
renames the input's height/width and the outputs' anchor dimension to symbolic names and drops
the shape annotations (`value_info`) that were inferred for 640x640. Weights, nodes, opset and
the exporter's metadata stay as they are; the model is serialised deterministically, so the same
2023mar bytes always give the same file (pinned as the manifest's `sha256` of `yunet_2026may`,
which is byte-identical to the dynamic model menwei mirrors already carry).

Any input whose height and width are multiples of 32 runs; detections on a 640x640 input are the
Zoo model's exactly (tests/modelhub/test_yunet_convert.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import onnx
from onnx import numpy_helper

from gateway.modelhub.npm_source import SourceIntegrityError

BASE_FILE = "face_detection_yunet_2023mar.onnx"
FIXED_INPUT = (1, 3, 640, 640)
HEADS = ("cls", "obj", "bbox", "kps")
STRIDES = (8, 16, 32)


class YuNetFormatError(SourceIntegrityError):
    """The base ONNX is not the fixed-size YuNet graph this converter was written for."""


def _dims(value: onnx.ValueInfoProto) -> tuple[int | str, ...]:
    return tuple(d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim)


def check_graph(model: onnx.ModelProto) -> None:
    """Refuse anything but YuNet 2023mar: one 640x640 input, the 12 head outputs, and Reshapes
    whose target shapes keep the anchor dimension free (-1)."""
    graph = model.graph
    if len(graph.input) != 1 or _dims(graph.input[0]) != FIXED_INPUT:
        raise YuNetFormatError(f"expected one input {FIXED_INPUT}, got {_dims(graph.input[0])}")
    expected = {f"{head}_{stride}" for head in HEADS for stride in STRIDES}
    if {output.name for output in graph.output} != expected:
        raise YuNetFormatError(f"expected outputs {sorted(expected)}")
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Reshape":
            target = initializers.get(node.input[1])
            if target is None or -1 not in numpy_helper.to_array(target).tolist():
                raise YuNetFormatError(f"Reshape {node.name} has a fixed target shape")
        if node.op_type in ("Shape", "ConstantOfShape", "Expand", "Constant"):
            raise YuNetFormatError(f"node {node.name} ({node.op_type}) may pin the input size")


def make_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same graph with input (1, 3, height, width) and outputs (1, anchors, k)."""
    check_graph(model)
    converted = onnx.ModelProto()
    converted.CopyFrom(model)
    graph = converted.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    for index, name in ((2, "height"), (3, "width")):
        dims[index].Clear()
        dims[index].dim_param = name
    for output in graph.output:
        anchor = output.type.tensor_type.shape.dim[1]
        anchor.Clear()
        anchor.dim_param = "anchors"
    del graph.value_info[:]  # shapes inferred for 640x640 only
    onnx.checker.check_model(converted)
    return converted


def convert(onnx_bytes: bytes) -> bytes:
    """YuNet 2023mar bytes -> deterministic bytes of the dynamic-input model."""
    try:
        model = onnx.load_from_string(onnx_bytes)
    except Exception as error:  # protobuf raises its own DecodeError
        raise YuNetFormatError(f"{BASE_FILE} is not a readable ONNX model") from error
    data: bytes = make_dynamic(model).SerializeToString(deterministic=True)
    return data


def convert_package(files: Mapping[str, bytes]) -> bytes:
    """The converter entry point fetch uses: {base file name: bytes} -> ONNX bytes."""
    try:
        return convert(files[BASE_FILE])
    except KeyError:
        raise YuNetFormatError(f"{BASE_FILE} was not given to the converter") from None


def weights_equal(first: onnx.ModelProto, second: onnx.ModelProto) -> bool:
    """True when both graphs hold bit-identical initializers (names and values)."""

    def table(model: onnx.ModelProto) -> dict[str, bytes]:
        return {t.name: numpy_helper.to_array(t).tobytes() for t in model.graph.initializer}

    return table(first) == table(second)
