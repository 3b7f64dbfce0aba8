"""Build the MobileFaceNet embedder ONNX from the npm package `faceplugin-face-recognition-js`.

The package ships `model/fr_feature.onnx`: a standard MobileFaceNet (PyTorch 1.10 export, opset 9,
input `input` [1,3,112,112], output `output` [1,512]). 8,938 of its 1,190,336 float32 weights are
denormal (non-zero, below float32's smallest normal 1.18e-38). Arithmetic on denormals can take a
slow microcode path: measured outside the project, the package's file ran 105 ms per face against
28.5 ms once flushed (one thread). On the development machine (AMD EPYC, onnxruntime 1.32) both
run at 13-16 ms, so the gain depends on the CPU; flushing costs nothing either way, because these
values are far below anything that can change an activation: the outputs are identical
(tests/modelhub/test_mobilefacenet_convert.py).

The weights that are tiny but not denormal (186,777 of them, 1e-38 to 1e-12) still produce denormal
activations at run time; those are flushed when the model is loaded (gateway.vision.graph_rewrite),
so this file and its pinned hash stay as they are.

Nothing else changes: graph, node names, opset and the exporter's metadata stay as the package has
them. The model is re-serialised with `deterministic=True`, so the same package file always gives
the same bytes (pinned in the manifest as `built_sha256`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, numpy_helper

from gateway.modelhub.npm_source import SourceIntegrityError

FEATURE_MODEL = "model/fr_feature.onnx"
INPUT_SHAPE = (1, 3, 112, 112)
EMBEDDING_SIZE = 512
FLOAT32_TINY = float(np.finfo(np.float32).tiny)


class MobileFaceNetFormatError(SourceIntegrityError):
    """The package's ONNX is not the MobileFaceNet graph this converter was written for (upstream
    bytes that are not the expected ones: fetch reports it like any other integrity failure)."""


def denormal_mask(values: NDArray[np.float32]) -> NDArray[np.bool_]:
    """True where a float32 value is denormal (non-zero and below the smallest normal)."""
    magnitude = np.abs(values)
    mask: NDArray[np.bool_] = (magnitude > 0) & (magnitude < FLOAT32_TINY)
    return mask


def flush_denormals(model: onnx.ModelProto) -> int:
    """Set every denormal float32 initializer value to +0.0 in place; returns how many."""
    flushed = 0
    for index, tensor in enumerate(model.graph.initializer):
        if tensor.data_type != TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(tensor).astype(np.float32)
        mask = denormal_mask(values)
        count = int(mask.sum())
        if count == 0:
            continue
        values = values.copy()
        values[mask] = 0.0
        model.graph.initializer[index].CopyFrom(numpy_helper.from_array(values, tensor.name))
        flushed += count
    return flushed


def _shape(value: onnx.ValueInfoProto) -> tuple[int, ...]:
    return tuple(dim.dim_value for dim in value.type.tensor_type.shape.dim)


def check_graph(model: onnx.ModelProto) -> None:
    """Refuse a graph whose input/output is not the MobileFaceNet this pack describes."""
    graph = model.graph
    if len(graph.input) != 1 or _shape(graph.input[0]) != INPUT_SHAPE:
        raise MobileFaceNetFormatError(
            f"expected one input of shape {INPUT_SHAPE}, got "
            f"{[(value.name, _shape(value)) for value in graph.input]}"
        )
    if len(graph.output) != 1 or _shape(graph.output[0]) != (1, EMBEDDING_SIZE):
        raise MobileFaceNetFormatError(
            f"expected one output of shape (1, {EMBEDDING_SIZE}), got "
            f"{[(value.name, _shape(value)) for value in graph.output]}"
        )


def convert(onnx_bytes: bytes) -> tuple[bytes, int]:
    """The package's fr_feature.onnx -> (deterministic ONNX bytes with denormals flushed, count)."""
    try:
        model = onnx.load_from_string(onnx_bytes)
    except Exception as error:  # protobuf raises its own DecodeError
        raise MobileFaceNetFormatError(f"{FEATURE_MODEL} is not a readable ONNX model") from error
    check_graph(model)
    flushed = flush_denormals(model)
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString(deterministic=True)
    return data, flushed


def convert_package(files: Mapping[str, bytes]) -> bytes:
    """Build the ONNX from the pinned package files (paths relative to the package root)."""
    try:
        source = files[FEATURE_MODEL]
    except KeyError:
        raise MobileFaceNetFormatError(f"{FEATURE_MODEL} is not among the pinned files") from None
    data, _flushed = convert(source)
    return data
