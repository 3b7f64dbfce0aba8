"""Build the 128-d face embedder ONNX from face-api.js's TFJS weights (FaceRecognitionNet).

face-api.js ships dlib's face recognition ResNet as a TFJS weights manifest plus binary shard(s);
most tensors are uint8-quantized with a per-tensor `scale` and `min` (value = q * scale + min).
The network, as face-api's `FaceRecognitionNet.forwardInput` runs it (NHWC in TFJS, NCHW here):

    x = (rgb - [122.782, 117.001, 104.298]) / 255
    convDown 7x7/2 valid -> relu -> maxpool 3x3/2 valid
    residual x3 (32) | residualDown + residual x3 (64) | residualDown + residual x2 (128)
    residualDown + residual x2 (256) | residualDown (256, "down_out")
    global average -> matmul fc [256, 128]

Every conv layer is conv + bias followed by a per-channel scale layer (x * w + b); the scale is
folded into the conv weights and bias, which is exact up to float32 rounding. `residualDown`
adds a 2x2/2 average pool of its input, zero-padded in channels (and the conv branch zero-padded
by one row and column at the bottom/right when the pooled map is larger), as upstream does.

The graph is built with `onnx.helper` with fixed IR version, opset and producer fields and no
variable metadata, so the same weights always give the same bytes (its sha256 is pinned in the
manifest as `built_sha256`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

WEIGHTS_MANIFEST = "model/face_recognition_model-weights_manifest.json"
MEAN_RGB = (122.782, 117.001, 104.298)
INPUT_SIZE = 150
DESCRIPTOR_SIZE = 128
OPSET = 17
IR_VERSION = 8
PRODUCER = "menwei.modelhub.faceapi_convert"
PRODUCER_VERSION = "1"

# (layer name, kind) in forward order; kind: "down" = residualDown, "res" = residual.
RESIDUAL_LAYERS: tuple[tuple[str, str], ...] = (
    ("conv32_1", "res"),
    ("conv32_2", "res"),
    ("conv32_3", "res"),
    ("conv64_down", "down"),
    ("conv64_1", "res"),
    ("conv64_2", "res"),
    ("conv64_3", "res"),
    ("conv128_down", "down"),
    ("conv128_1", "res"),
    ("conv128_2", "res"),
    ("conv256_down", "down"),
    ("conv256_1", "res"),
    ("conv256_2", "res"),
    ("conv256_down_out", "down"),
)

Float32Array = NDArray[np.float32]


class WeightsFormatError(ValueError):
    """The TFJS weights do not have the layout FaceRecognitionNet expects."""


def decode_tfjs_weights(manifest_json: bytes, shards: Sequence[bytes]) -> dict[str, Float32Array]:
    """Decode a TFJS weights manifest and its shard bytes into float32 arrays (TFJS layout)."""
    groups = json.loads(manifest_json)
    weights: dict[str, Float32Array] = {}
    if len(shards) != sum(len(group["paths"]) for group in groups):
        raise WeightsFormatError("shard count does not match the weights manifest paths")
    shard_iter = iter(shards)
    for group in groups:
        buffer = b"".join(next(shard_iter) for _ in group["paths"])
        offset = 0
        for spec in group["weights"]:
            array, offset = _decode_one(spec, buffer, offset)
            weights[spec["name"]] = array
        if offset != len(buffer):
            raise WeightsFormatError(f"{len(buffer) - offset} bytes left over in a weight group")
    return weights


def _decode_one(spec: Mapping[str, object], buffer: bytes, offset: int) -> tuple[Float32Array, int]:
    shape = tuple(int(dim) for dim in spec["shape"])  # type: ignore[attr-defined]
    count = int(np.prod(shape)) if shape else 1
    if spec.get("dtype") != "float32":
        raise WeightsFormatError(f"{spec['name']}: unsupported dtype {spec.get('dtype')}")
    quant = spec.get("quantization")
    if quant is None:
        end = offset + 4 * count
        values = np.frombuffer(buffer[offset:end], dtype="<f4").astype(np.float32)
    else:
        if not isinstance(quant, dict) or quant.get("dtype") != "uint8":
            raise WeightsFormatError(f"{spec['name']}: unsupported quantization {quant}")
        end = offset + count
        raw = np.frombuffer(buffer[offset:end], dtype=np.uint8).astype(np.float64)
        # TFJS dequantizes in float64 (JS numbers) and stores the result in a Float32Array.
        values = (raw * float(quant["scale"]) + float(quant["min"])).astype(np.float32)
    if values.size != count:
        raise WeightsFormatError(f"{spec['name']}: shard too short")
    return values.reshape(shape), end


@dataclass
class _GraphBuilder:
    """Accumulates nodes and initializers with readable, deterministic names."""

    weights: Mapping[str, Float32Array]
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)

    def constant(self, name: str, value: NDArray[np.generic]) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv(self, x: str, prefix: str, stride: int, relu: bool) -> str:
        """face-api convLayer: conv (+bias) -> scale layer -> optional relu, scale folded."""
        filters = self._take(f"{prefix}/conv/filters")  # [kh, kw, in, out]
        bias = self._take(f"{prefix}/conv/bias")
        scale_w = self._take(f"{prefix}/scale/weights")
        scale_b = self._take(f"{prefix}/scale/biases")
        kernel = filters.shape[0]
        weight = np.transpose(filters, (3, 2, 0, 1)) * scale_w[:, None, None, None]
        folded_bias = bias * scale_w + scale_b
        name = prefix.replace("/", "_")
        pad = 0 if stride == 2 else kernel // 2  # 'valid' when strided, 'same' (odd k) otherwise
        out = self.node(
            "Conv",
            [
                x,
                self.constant(name + "_W", weight.astype(np.float32)),
                self.constant(name + "_B", folded_bias.astype(np.float32)),
            ],
            name,
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[pad] * 4,
        )
        return self.node("Relu", [out], name + "_relu") if relu else out

    def residual(
        self, x: str, prefix: str, down: bool, size: int, channels: int
    ) -> tuple[str, int]:
        """face-api residual / residualDown; returns the output and its spatial size."""
        branch = self.conv(x, f"{prefix}/conv1", 2 if down else 1, relu=True)
        branch = self.conv(branch, f"{prefix}/conv2", 1, relu=False)
        shortcut = x
        out_channels = int(self.weights[f"{prefix}/conv2/conv/filters"].shape[3])
        out_size = size
        if down:
            out_size = size // 2
            conv_size = (size - 3) // 2 + 1
            shortcut = self.node(
                "AveragePool", [x], prefix + "_pool", kernel_shape=[2, 2], strides=[2, 2]
            )
            if conv_size != out_size:  # upstream appends a zero row and column to the branch
                pads = np.array([0, 0, 0, 0, 0, 0, 1, 1], dtype=np.int64)
                branch = self.node(
                    "Pad", [branch, self.constant(prefix + "_padhw", pads)], prefix + "_padhw_out"
                )
            if out_channels != channels:  # upstream concatenates zero channels to the pool
                extra = out_channels - channels
                pads = np.array([0, 0, 0, 0, 0, extra, 0, 0], dtype=np.int64)
                shortcut = self.node(
                    "Pad", [shortcut, self.constant(prefix + "_padc", pads)], prefix + "_padc_out"
                )
        summed = self.node("Add", [branch, shortcut], prefix + "_add")
        return self.node("Relu", [summed], prefix + "_out"), out_size

    def _take(self, name: str) -> Float32Array:
        try:
            return self.weights[name]
        except KeyError:
            raise WeightsFormatError(f"missing weight tensor {name}") from None


def build_model(weights: Mapping[str, Float32Array]) -> onnx.ModelProto:
    """The FaceRecognitionNet graph: input [N,3,150,150] RGB 0..255 -> descriptor [N,128]."""
    builder = _GraphBuilder(weights)
    mean = np.array(MEAN_RGB, dtype=np.float32).reshape(1, 3, 1, 1)
    centred = builder.node("Sub", ["input", builder.constant("mean_rgb", mean)], "centred")
    x = builder.node(
        "Div", [centred, builder.constant("c255", np.array(255.0, np.float32))], "normalized"
    )
    x = builder.conv(x, "conv32_down", 2, relu=True)
    x = builder.node("MaxPool", [x], "pool1", kernel_shape=[3, 3], strides=[2, 2])
    size = ((INPUT_SIZE - 7) // 2 + 1 - 3) // 2 + 1
    channels = 32
    for name, kind in RESIDUAL_LAYERS:
        x, size = builder.residual(x, name, kind == "down", size, channels)
        channels = int(weights[f"{name}/conv2/conv/filters"].shape[3])
    x = builder.node("ReduceMean", [x], "gap", axes=[2, 3], keepdims=0)
    fc = builder._take("fc")
    if fc.shape != (channels, DESCRIPTOR_SIZE):
        raise WeightsFormatError(f"fc has shape {fc.shape}, expected ({channels}, 128)")
    builder.node("MatMul", [x, builder.constant("fc", fc)], "descriptor")
    used = {init.name for init in builder.initializers}
    _check_all_used(weights, used)
    graph = helper.make_graph(
        builder.nodes,
        "faceapi_face_recognition",
        [
            helper.make_tensor_value_info(
                "input", TensorProto.FLOAT, ["N", 3, INPUT_SIZE, INPUT_SIZE]
            )
        ],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["N", DESCRIPTOR_SIZE])],
        builder.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        producer_version=PRODUCER_VERSION,
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def _check_all_used(weights: Mapping[str, Float32Array], initializers: set[str]) -> None:
    expected = set(_expected_weight_names())
    missing = expected - set(weights)
    unused = set(weights) - expected
    if missing or unused:
        raise WeightsFormatError(
            f"weights mismatch: missing {sorted(missing)}, extra {sorted(unused)}"
        )
    if "fc" not in initializers:
        raise WeightsFormatError("fc was not placed in the graph")


def _expected_weight_names() -> Iterator[str]:
    def conv_layer(prefix: str) -> Iterator[str]:
        for part in ("conv/filters", "conv/bias", "scale/weights", "scale/biases"):
            yield f"{prefix}/{part}"

    yield from conv_layer("conv32_down")
    for name, _kind in RESIDUAL_LAYERS:
        yield from conv_layer(f"{name}/conv1")
        yield from conv_layer(f"{name}/conv2")
    yield "fc"


def convert(manifest_json: bytes, shards: Sequence[bytes]) -> bytes:
    """TFJS weights manifest + shards -> serialized ONNX bytes (deterministic)."""
    model = build_model(decode_tfjs_weights(manifest_json, shards))
    data: bytes = model.SerializeToString(deterministic=True)
    return data


def shard_names(manifest_json: bytes) -> list[str]:
    """The shard file names a TFJS weights manifest refers to, in order."""
    return [path for group in json.loads(manifest_json) for path in group["paths"]]


def convert_package(files: Mapping[str, bytes]) -> bytes:
    """Build the ONNX from the package files (paths relative to the package root)."""
    manifest_json = files[WEIGHTS_MANIFEST]
    folder = WEIGHTS_MANIFEST.rsplit("/", 1)[0]
    shards = []
    for name in shard_names(manifest_json):
        path = f"{folder}/{name}"
        if path not in files:
            raise WeightsFormatError(f"weights shard {path} is not among the pinned files")
        shards.append(files[path])
    return convert(manifest_json, shards)
