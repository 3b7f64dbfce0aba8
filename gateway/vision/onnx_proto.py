"""ONNX protobuf messages for the load-time graph rewrites, without importing the `onnx` package.

`import onnx` pulls in ml_dtypes, whose start-up alone took 1.3 s of the gateway's cold start on
the development box under load (0.06 s for the generated message module by itself). The rewrites
need only the messages, so this module loads onnx's generated `onnx_ml_pb2.py` by its path, or uses
the package's own module when something already imported `onnx` (tests, converters): both register
the same descriptor file, so their messages are interchangeable. It also offers the three helpers
the rewrites use (tensor to and from numpy, a node with integer attributes).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from onnx import ModelProto, NodeProto, TensorProto

FLOAT = 1  # TensorProto.DataType
INT64 = 7
_DTYPES: dict[int, np.dtype[np.generic]] = {FLOAT: np.dtype("<f4"), INT64: np.dtype("<i8")}
_ATTRIBUTE_INT, _ATTRIBUTE_INTS = 2, 7  # AttributeProto.AttributeType


def _messages() -> ModuleType:
    loaded = sys.modules.get("onnx.onnx_ml_pb2") or sys.modules.get("menwei_onnx_ml_pb2")
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("onnx")  # locates the package without importing it
    if package is None or not package.submodule_search_locations:
        raise ImportError("the onnx package is not installed")
    location = Path(next(iter(package.submodule_search_locations))) / "onnx_ml_pb2.py"
    spec = importlib.util.spec_from_file_location("menwei_onnx_ml_pb2", location)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {location}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["menwei_onnx_ml_pb2"] = module
    return module


def load_model(path: Path) -> ModelProto:
    """The ModelProto stored in `path` (no external data: the shipped models have none)."""
    model: ModelProto = _messages().ModelProto.FromString(path.read_bytes())
    return model


def to_array(tensor: TensorProto) -> npt.NDArray[np.generic]:
    """A float32 or int64 initializer as a numpy array (a copy)."""
    dtype = _DTYPES.get(tensor.data_type)
    if dtype is None:
        raise ValueError(f"initializer {tensor.name!r}: data type {tensor.data_type} not handled")
    if tensor.raw_data:
        values = np.frombuffer(tensor.raw_data, dtype).copy()
    else:
        values = np.asarray(tensor.float_data if dtype.kind == "f" else tensor.int64_data, dtype)
    shaped: npt.NDArray[np.generic] = values.reshape(tuple(tensor.dims))
    return shaped


def from_array(values: npt.NDArray[np.generic], name: str) -> TensorProto:
    """A float32 or int64 initializer named `name` holding `values`."""
    data_type = next((code for code, dtype in _DTYPES.items() if dtype == values.dtype), None)
    if data_type is None:
        raise ValueError(f"{values.dtype} initializers are not handled")
    tensor: TensorProto = _messages().TensorProto(
        name=name,
        dims=values.shape,
        data_type=data_type,
        raw_data=np.ascontiguousarray(values, _DTYPES[data_type]).tobytes(),
    )
    return tensor


def make_node(
    op_type: str, inputs: list[str], outputs: list[str], name: str, **ints: int | list[int]
) -> NodeProto:
    """A default-domain node with integer (or integer list) attributes."""
    messages = _messages()
    node: NodeProto = messages.NodeProto(op_type=op_type, input=inputs, output=outputs, name=name)
    for key, value in sorted(ints.items()):
        if isinstance(value, list):
            attribute = messages.AttributeProto(name=key, type=_ATTRIBUTE_INTS, ints=value)
        else:
            attribute = messages.AttributeProto(name=key, type=_ATTRIBUTE_INT, i=value)
        node.attribute.append(attribute)
    return node
