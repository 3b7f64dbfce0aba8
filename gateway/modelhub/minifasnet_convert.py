"""Build the MiniFASNet liveness ONNX from minivision's official `.pth` checkpoint, in pure Python.

The checkpoint is read by `torch_checkpoint` (restricted unpickler, no PyTorch) and the graph is
built with `onnx.helper`, following minivision's `src/model_lib/MiniFASNet.py` (MiniFASNetV1/V2
and their SE variants; the layer sizes come from the tensors):

    conv1 (3x3/2, Conv_block) -> conv2_dw (3x3 depthwise) -> conv_23 (Depth_Wise, /2)
    -> conv_3 (residual Depth_Wise blocks) -> conv_34 (/2) -> conv_4 (blocks) -> conv_45 (/2)
    -> conv_5 (blocks) -> conv_6_sep (1x1) -> conv_6_dw (5x5 depthwise, valid, no activation)
    -> flatten -> linear (no bias) -> bn (BatchNorm1d) -> prob (no bias) = logits [1, 3]

Conv_block = conv (no bias) + BatchNorm2d + PReLU; Linear_block = conv + BatchNorm2d;
Depth_Wise = Conv_block 1x1 -> Conv_block depthwise 3x3 -> Linear_block 1x1 (+ input when inside
a residual stage); an SE block (avg pool -> 1x1 conv + BN -> ReLU -> 1x1 conv + BN -> sigmoid,
times its input) sits before the residual add when the block has `se_module` tensors.

Every BatchNorm (eps 1e-5, PyTorch's default) is folded into the conv or linear before it, in
float64, then stored as float32: elementwise IEEE arithmetic, so the same checkpoint gives the
same bytes on every machine. The serialisation is deterministic (fixed IR version, opset and
producer), so the ONNX built from the official download equals the bundled file byte for byte.
Every tensor of the checkpoint must be used exactly once: a missing or unknown one is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from gateway.modelhub.torch_checkpoint import CheckpointError, read_state_dict

OPSET = 17
IR_VERSION = 8
PRODUCER = "menwei.modelhub.minifasnet_convert"
PRODUCER_VERSION = "1"
BN_EPS = 1e-5
INPUT_SIZE = 80
# Top-level layers in forward order: (name, kind, stride of its spatial conv).
STEM: tuple[tuple[str, str, int], ...] = (
    ("conv1", "conv_block", 2),
    ("conv2_dw", "conv_block", 1),
    ("conv_23", "depth_wise", 2),
    ("conv_3", "residual", 1),
    ("conv_34", "depth_wise", 2),
    ("conv_4", "residual", 1),
    ("conv_45", "depth_wise", 2),
    ("conv_5", "residual", 1),
    ("conv_6_sep", "conv_block", 1),
)

Array = NDArray[Any]


class CheckpointLayoutError(CheckpointError):
    """The checkpoint's tensors are not a MiniFASNet (missing, extra or misshapen tensors)."""


@dataclass
class _Builder:
    """Consumes state-dict tensors while appending nodes and initializers."""

    tensors: Mapping[str, Array]
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def take(self, name: str) -> Array:
        try:
            value = self.tensors[name]
        except KeyError:
            raise CheckpointLayoutError(
                f"the checkpoint has no tensor {name!r}: not a MiniFASNet checkpoint, or damaged"
            ) from None
        self.used.add(name)
        return np.asarray(value, dtype=np.float64)

    def has(self, name: str) -> bool:
        return name in self.tensors

    def constant(self, name: str, value: Array) -> str:
        self.initializers.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def batch_norm(self, prefix: str, channels: int) -> tuple[Array, Array]:
        """(scale, shift) of an eval-mode BatchNorm: y = x * scale + shift."""
        gamma, beta = self.take(f"{prefix}.weight"), self.take(f"{prefix}.bias")
        mean, var = self.take(f"{prefix}.running_mean"), self.take(f"{prefix}.running_var")
        self.used.add(f"{prefix}.num_batches_tracked")
        if not gamma.shape == beta.shape == mean.shape == var.shape == (channels,):
            raise CheckpointLayoutError(f"{prefix}: BatchNorm tensors are not of size {channels}")
        scale = gamma / np.sqrt(var + BN_EPS)
        return scale, beta - mean * scale

    def conv_bn(
        self, x: str, channels: int, conv: str, bn: str, stride: int, pad: int | None = None
    ) -> tuple[str, int]:
        """Conv (no bias) with the BatchNorm after it folded in; returns (output, out channels)."""
        weight = self.take(f"{conv}.weight")
        if weight.ndim != 4 or weight.shape[2] != weight.shape[3] or channels % weight.shape[1]:
            raise CheckpointLayoutError(f"{conv}.weight has shape {weight.shape}")
        out_channels, kernel = int(weight.shape[0]), int(weight.shape[2])
        scale, shift = self.batch_norm(bn, out_channels)
        pad = (kernel - 1) // 2 if pad is None else pad
        output = self.node(
            "Conv",
            [
                x,
                self.constant(f"{conv}.W", weight * scale[:, None, None, None]),
                self.constant(f"{conv}.B", shift),
            ],
            conv,
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[pad] * 4,
            group=channels // int(weight.shape[1]),
        )
        return output, out_channels

    def conv_block(self, x: str, channels: int, prefix: str, stride: int) -> tuple[str, int]:
        """Conv_block: conv + BN + PReLU."""
        out, out_channels = self.conv_bn(x, channels, f"{prefix}.conv", f"{prefix}.bn", stride)
        slope = self.take(f"{prefix}.prelu.weight")
        if slope.shape != (out_channels,):
            raise CheckpointLayoutError(f"{prefix}.prelu.weight has shape {slope.shape}")
        slope_name = self.constant(f"{prefix}.prelu.slope", slope.reshape(-1, 1, 1))
        return self.node("PRelu", [out, slope_name], f"{prefix}.prelu"), out_channels

    def depth_wise(
        self, x: str, channels: int, prefix: str, stride: int, residual: bool
    ) -> tuple[str, int]:
        """Depth_Wise(_SE): 1x1 expand, depthwise 3x3, 1x1 project, [SE], [+ input]."""
        out, width = self.conv_block(x, channels, f"{prefix}.conv", 1)
        out, width = self.conv_block(out, width, f"{prefix}.conv_dw", stride)
        out, width = self.conv_bn(out, width, f"{prefix}.project.conv", f"{prefix}.project.bn", 1)
        if self.has(f"{prefix}.se_module.fc1.weight"):
            out = self.se_module(out, width, f"{prefix}.se_module")
        if residual:
            if width != channels:
                raise CheckpointLayoutError(f"{prefix}: residual block changes {channels}->{width}")
            out = self.node("Add", [x, out], f"{prefix}.add")
        return out, width

    def se_module(self, x: str, channels: int, prefix: str) -> str:
        pooled = self.node("GlobalAveragePool", [x], f"{prefix}.pool")
        squeezed, width = self.conv_bn(pooled, channels, f"{prefix}.fc1", f"{prefix}.bn1", 1)
        squeezed = self.node("Relu", [squeezed], f"{prefix}.relu")
        excited, width = self.conv_bn(squeezed, width, f"{prefix}.fc2", f"{prefix}.bn2", 1)
        if width != channels:
            raise CheckpointLayoutError(f"{prefix}: SE output has {width} channels, not {channels}")
        gate = self.node("Sigmoid", [excited], f"{prefix}.sigmoid")
        return self.node("Mul", [x, gate], f"{prefix}.scale")

    def residual_stage(self, x: str, channels: int, prefix: str) -> tuple[str, int]:
        pattern = re.compile(rf"^{re.escape(prefix)}\.model\.(\d+)\.")
        count = len({int(m.group(1)) for key in self.tensors if (m := pattern.match(key))})
        if count == 0:
            raise CheckpointLayoutError(f"the checkpoint has no blocks for stage {prefix!r}")
        for index in range(count):
            x, channels = self.depth_wise(x, channels, f"{prefix}.model.{index}", 1, True)
        return x, channels

    def head(self, x: str, channels: int) -> str:
        """conv_6_dw (Linear_block, valid) -> flatten -> [linear -> bn] -> prob."""
        x, channels = self.conv_bn(x, channels, "conv_6_dw.conv", "conv_6_dw.bn", 1, pad=0)
        x = self.node("Flatten", [x], "flatten", axis=1)
        if self.has("linear.weight"):
            linear = self.take("linear.weight")  # [embedding, channels]
            scale, shift = self.batch_norm("bn", int(linear.shape[0]))
            weight = (linear * scale[:, None]).T
            x = self.node(
                "Gemm",
                [x, self.constant("linear.W", weight), self.constant("linear.B", shift)],
                "embedding",
            )
        prob = self.take("prob.weight")  # [classes, embedding]
        return self.node("MatMul", [x, self.constant("prob.W", prob.T)], "output")


def _strip_prefix(tensors: Mapping[str, Array]) -> dict[str, Array]:
    """Checkpoints saved from nn.DataParallel name every tensor 'module.<name>'."""
    if tensors and all(key.startswith("module.") for key in tensors):
        return {key[len("module.") :]: value for key, value in tensors.items()}
    return dict(tensors)


def build_model(tensors: Mapping[str, Array]) -> onnx.ModelProto:
    """The MiniFASNet graph: `input` [1,3,80,80] BGR 0..255 -> `output` logits [1, classes]."""
    builder = _Builder(_strip_prefix(tensors))
    x, channels = "input", 3
    for name, kind, stride in STEM:
        if kind == "conv_block":
            x, channels = builder.conv_block(x, channels, name, stride)
        elif kind == "depth_wise":
            x, channels = builder.depth_wise(x, channels, name, stride, residual=False)
        else:
            x, channels = builder.residual_stage(x, channels, name)
    output = builder.head(x, channels)
    unused = sorted(set(builder.tensors) - builder.used)
    if unused:
        raise CheckpointLayoutError(f"the checkpoint has tensors MiniFASNet does not use: {unused}")
    classes = int(builder.tensors["prob.weight"].shape[0])
    graph = helper.make_graph(
        builder.nodes,
        "minifasnet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, classes])],
        builder.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        producer_version=PRODUCER_VERSION,
    )
    model.ir_version = IR_VERSION
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as error:
        raise CheckpointLayoutError(f"the built graph is not valid ONNX: {error}") from None
    return model


def convert_checkpoint(data: bytes) -> bytes:
    """Official `.pth` bytes -> serialized ONNX bytes (deterministic)."""
    model = build_model(read_state_dict(data))
    built: bytes = model.SerializeToString(deterministic=True)
    return built
