"""Graph rewrites that keep a model's numbers, applied in memory at load (the verified file on disk
is unchanged). Found with onnxruntime's profiler on the development box (Intel Xeon, AVX-512).

`flush_negligible_weights` sets weights below 1e-12 in magnitude to zero. MobileFaceNet carries
186,777 of them (1e-38 to 1e-12: channels that died in training, their weights decayed towards
zero); their products with activations are denormal floats, which Intel CPUs compute on a slow
microcode path, through every layer after (measured: 20,000 denormal activations per crop, the
crop 3x slower). A weight of 1e-12 times any activation these models produce (well below 1e4)
adds less than 1e-8 to a sum, under float32's resolution of the values it is added to: the
shipped models' outputs are bit-identical with them flushed (tests/gateway/test_graph_rewrite.py).
The converter flushed only the denormal weights themselves (mobilefacenet_convert).

onnxruntime's CPU provider runs convolutions in its blocked NCHWc layout, but it has no NCHWc
PRelu: in MobileFaceNet (33 PRelu after 50 convolutions) every PRelu reorders its input back to
NCHW, runs a slow broadcasting kernel and reorders again. Profiled on the development box, PRelu
and the reorders were 8.5 of 18.8 ms per crop. `prelu_as_convolutions` replaces each PRelu with
operations onnxruntime keeps in NCHWc:

    PRelu(x) = Relu(x) + Conv1x1_depthwise[-slope](Relu(Conv1x1_depthwise[-1](x)))

Every value is computed exactly as PRelu does: for x >= 0 the second term is a signed zero and
Relu(x) = x; for x < 0, Relu(x) = 0 and (-slope) * (-x) rounds exactly like slope * x (negation
is exact). Outputs are bit-identical on the shipped models (tests/gateway/test_graph_rewrite.py).
Only channel counts that are a multiple of the NCHWc block are rewritten: elsewhere the chain
would run as plain NCHW convolutions, slower than the PRelu it replaces (MiniFASNet's 13, 26, 52,
77... channels).

`pad_channels` widens the inner channels of MiniFASNet's pruned blocks (Conv 1x1 -> PRelu ->
depthwise Conv -> PRelu -> Conv 1x1 over 13, 26, 52, 77, 103, 231 or 308 channels) to the next
multiple of the block with zero weights, so those convolutions run in NCHWc and their PRelu can be
rewritten too. The added channels hold exact zeros and the closing convolution gives them zero
weights: only the order in which the NCHWc kernels sum their terms differs from the plain ones
(logits within 1.3e-6 of the file's, liveness scores within 4.3e-7 on 300 LFW faces; tested at
1e-5).

`free_batch` lets a graph exported with a fixed batch of 1 (MobileFaceNet's final Reshape to
[1, -1]) take a batch, so a face and its mirror image run in one call: every Reshape target that
starts with 1 starts with 0 (copy the input's batch) instead, and the input and output batch
dimensions become symbolic. Nothing else in such a graph depends on the batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gateway.vision.onnx_proto import FLOAT, from_array, make_node, to_array

if TYPE_CHECKING:
    from onnx import GraphProto, ModelProto, NodeProto, TensorProto

NEGLIGIBLE_WEIGHT = 1e-12
NCHWC_BLOCK = 16  # onnxruntime's NCHWc block on AVX-512 (8 on AVX2: a multiple of 16 is both)
_PREFIX = "menwei_prelu"


def _initializers(graph: GraphProto) -> dict[str, TensorProto]:
    return {tensor.name: tensor for tensor in graph.initializer}


def flush_negligible_weights(model: ModelProto, below: float = NEGLIGIBLE_WEIGHT) -> int:
    """Set every float32 initializer value with 0 < |value| < `below` to zero; returns how many."""
    flushed = 0
    for tensor in model.graph.initializer:
        if tensor.data_type != FLOAT:
            continue
        values = to_array(tensor)
        negligible = (values != 0) & (np.abs(values) < below)
        count = int(negligible.sum())
        if count:
            tensor.CopyFrom(from_array(np.where(negligible, 0, values), tensor.name))
            flushed += count
    return flushed


def _per_channel_slope(node: NodeProto, constants: dict[str, TensorProto]) -> int | None:
    """The channel count of a PRelu whose slope is a constant of shape (C, 1, 1), else None."""
    if node.op_type != "PRelu" or node.input[1] not in constants:
        return None
    shape = tuple(constants[node.input[1]].dims)
    if len(shape) != 3 or shape[1:] != (1, 1) or shape[0] % NCHWC_BLOCK != 0:
        return None
    return int(shape[0])


def prelu_as_convolutions(model: ModelProto) -> int:
    """Rewrite each per-channel PRelu (see the module docstring) in place; returns how many."""
    graph = model.graph
    constants = _initializers(graph)
    nodes: list[NodeProto] = []
    rewritten = 0
    replaced_slopes: set[str] = set()
    for node in graph.node:
        channels = _per_channel_slope(node, constants)
        if channels is None:
            nodes.append(node)
            continue
        x, slope_name = node.input
        name = f"{_PREFIX}{rewritten}"
        slope = to_array(constants[slope_name]).astype(np.float32)
        minus_one = np.full((channels, 1, 1, 1), -1.0, np.float32)
        minus_slope = (-slope).reshape(channels, 1, 1, 1)
        graph.initializer.append(from_array(minus_one, f"{name}_minus_one"))
        graph.initializer.append(from_array(minus_slope, f"{name}_minus_slope"))
        nodes += [
            make_node("Relu", [x], [f"{name}_positive"], name=f"{name}_relu"),
            make_node(
                "Conv",
                [x, f"{name}_minus_one"],
                [f"{name}_negated"],
                name=f"{name}_negate",
                group=channels,
                kernel_shape=[1, 1],
            ),
            make_node(
                "Relu", [f"{name}_negated"], [f"{name}_negative"], name=f"{name}_relu_negated"
            ),
            make_node(
                "Conv",
                [f"{name}_negative", f"{name}_minus_slope"],
                [f"{name}_scaled"],
                name=f"{name}_scale",
                group=channels,
                kernel_shape=[1, 1],
            ),
            make_node("Add", [f"{name}_scaled", f"{name}_positive"], list(node.output), name=name),
        ]
        replaced_slopes.add(slope_name)
        rewritten += 1
    if rewritten:
        still_used = {name for node in nodes for name in node.input}
        kept = [t for t in graph.initializer if t.name not in replaced_slopes - still_used]
        del graph.initializer[:]
        graph.initializer.extend(kept)
        del graph.node[:]
        graph.node.extend(nodes)
        del graph.value_info[:]  # shapes inferred for the old nodes; onnxruntime re-infers
    return rewritten


# Operations that treat each item of a batch alone, whatever their constant inputs.
_PER_ITEM = {
    "Add", "AveragePool", "BatchNormalization", "Clip", "Conv", "Div", "GlobalAveragePool",
    "GlobalMaxPool", "Identity", "LeakyRelu", "MatMul", "MaxPool", "Mul", "PRelu", "Relu",
    "Reshape", "Sigmoid", "Sub", "Tanh",
}  # fmt: skip


def _batch_agnostic(node: NodeProto) -> bool:
    """True when the node computes each batch item on its own (Flatten from axis 1, Gemm not
    transposing its input; Reshape is checked by the caller)."""
    if node.op_type == "Flatten":
        return _attribute(node, "axis", 1) == 1
    if node.op_type == "Gemm":
        return _attribute(node, "transA", 0) == 0
    return node.op_type in _PER_ITEM


def free_batch(model: ModelProto) -> bool:
    """Make a graph fixed to batch 1 accept any batch, when only Reshape targets pin it (see the
    module docstring). False, untouched, when the batch is already free or something else
    might depend on it: an operation outside the per-item list, a Reshape target that does not
    start with 1 or is computed."""
    graph = model.graph
    if len(graph.input) != 1 or not graph.output:
        return False
    batch_dims = [value.type.tensor_type.shape.dim[0] for value in (*graph.input, *graph.output)]
    if any(dim.dim_value != 1 for dim in batch_dims):
        return False
    if any(not _batch_agnostic(node) for node in graph.node):
        return False
    constants = _initializers(graph)
    reshapes = [node for node in graph.node if node.op_type == "Reshape"]
    for node in reshapes:
        target = constants.get(node.input[1])
        if target is None or to_array(target).reshape(-1)[:1].tolist() != [1]:
            return False
        if any(attribute.name == "allowzero" and attribute.i for attribute in node.attribute):
            return False
    for node in reshapes:
        target = constants[node.input[1]]
        values = to_array(target).copy()
        values[0] = 0  # Reshape: 0 copies the input's dimension (its batch)
        target.CopyFrom(from_array(values, target.name))
    for dim in batch_dims:
        dim.Clear()
        dim.dim_param = "batch"
    del graph.value_info[:]
    return True


def _attribute(node: NodeProto, name: str, default: int) -> int:
    for attribute in node.attribute:
        if attribute.name == name:
            return int(attribute.i)
    return default


def _padded(tensor: TensorProto, axis: int, width: int) -> None:
    """Append `width` zeros along `axis` of an initializer, in place."""
    values = to_array(tensor)
    padding = [(0, 0)] * values.ndim
    padding[axis] = (0, width)
    tensor.CopyFrom(from_array(np.pad(values, padding), tensor.name))


def _channel_chain(
    start: NodeProto,
    channels: int,
    consumers: dict[str, list[NodeProto]],
    constants: dict[str, TensorProto],
) -> tuple[list[NodeProto], NodeProto] | None:
    """The per-channel nodes (PRelu, depthwise Conv) between `start` and the one plain Conv that
    closes its channels, each the sole reader of the one before; None for any other shape."""
    chain: list[NodeProto] = []
    tensor = start.output[0]
    while len(consumers.get(tensor, [])) == 1:
        node = consumers[tensor][0]
        weight = constants.get(node.input[1]) if len(node.input) > 1 else None
        if weight is None:
            return None
        dims = tuple(weight.dims)
        if node.op_type == "PRelu" and dims == (channels, 1, 1):
            chain.append(node)
        elif node.op_type == "Conv" and _attribute(node, "group", 1) == channels == dims[0]:
            if dims[1] != 1:
                return None
            chain.append(node)
        elif node.op_type == "Conv" and _attribute(node, "group", 1) == 1 and dims[1] == channels:
            return chain, node
        else:
            return None
        tensor = node.output[0]
    return None


def pad_channels(model: ModelProto) -> int:
    """Widen closed per-channel blocks to a multiple of NCHWC_BLOCK (module docstring); returns
    how many blocks were widened."""
    graph = model.graph
    constants = _initializers(graph)
    consumers: dict[str, list[NodeProto]] = {}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
            uses[name] = uses.get(name, 0) + 1
    outputs = {value.name for value in graph.output}
    widened = 0
    for node in list(graph.node):
        weight = constants.get(node.input[1]) if node.op_type == "Conv" else None
        if weight is None or _attribute(node, "group", 1) != 1:
            continue
        channels = int(weight.dims[0])
        width = -channels % NCHWC_BLOCK
        found = _channel_chain(node, channels, consumers, constants) if width else None
        if found is None:
            continue
        chain, closing = found
        produced = [node.output[0], *(member.output[0] for member in chain)]
        owned = [name for member in (node, *chain) for name in member.input[1:]]
        if outputs.intersection(produced) or any(uses[name] != 1 for name in owned):
            continue
        for member in (node, *chain):
            for name in member.input[1:]:
                _padded(constants[name], 0, width)
            for attribute in member.attribute:
                if member is not node and attribute.name == "group":
                    attribute.i = channels + width
        _padded(constants[closing.input[1]], 1, width)
        widened += 1
    if widened:
        del graph.value_info[:]
    return widened
