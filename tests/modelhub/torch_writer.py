"""Write PyTorch checkpoints (legacy and zip layouts) without PyTorch, for the converter tests.

The pickle names `torch._utils._rebuild_tensor_v2` and `torch.FloatStorage` exactly as torch
writes them; while pickling, stand-in `torch` modules sit in sys.modules so that the standard
pickler can name those globals (they are removed again afterwards).
"""

from __future__ import annotations

import io
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_NAMES = {np.dtype("<f4"): "FloatStorage", np.dtype("<i8"): "LongStorage"}


class _Storage:
    def __init__(self, key: str, array: NDArray[Any]) -> None:
        self.key, self.array = key, np.ascontiguousarray(array).reshape(-1)


class _Tensor:
    def __init__(self, storage: _Storage, shape: tuple[int, ...]) -> None:
        self.storage, self.shape = storage, shape


@contextmanager
def _stand_in_torch() -> Iterator[types.ModuleType]:
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:
        raise AssertionError("only for pickling")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    for name in STORAGE_NAMES.values():
        setattr(torch, name, type(name, (), {"__module__": "torch", "__qualname__": name}))
    torch._utils = utils  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield torch
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _pickle_state(tensors: Mapping[str, NDArray[Any]]) -> tuple[bytes, list[_Storage]]:
    storages = [_Storage(str(i), np.asarray(a)) for i, a in enumerate(tensors.values())]
    state = OrderedDict(
        (name, _Tensor(storage, tuple(np.shape(array))))
        for (name, array), storage in zip(tensors.items(), storages, strict=True)
    )
    with _stand_in_torch() as torch:

        class _Pickler(pickle.Pickler):
            def persistent_id(self, obj: Any) -> Any:
                if isinstance(obj, _Storage):
                    kind = getattr(torch, STORAGE_NAMES[obj.array.dtype])
                    return ("storage", kind, obj.key, "cpu", obj.array.size)
                return None

            def reducer_override(self, obj: Any) -> Any:
                if isinstance(obj, _Tensor):
                    strides = tuple(int(np.prod(obj.shape[i + 1 :])) for i in range(len(obj.shape)))
                    rebuild = torch._utils._rebuild_tensor_v2
                    return rebuild, (obj.storage, 0, obj.shape, strides, False, OrderedDict())
                return NotImplemented

        stream = io.BytesIO()
        _Pickler(stream, protocol=2).dump(state)
    return stream.getvalue(), storages


def legacy_checkpoint(tensors: Mapping[str, NDArray[Any]]) -> bytes:
    """The torch < 1.6 layout minivision publishes."""
    body, storages = _pickle_state(tensors)
    out = io.BytesIO()
    for header in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, out, protocol=2)
    out.write(body)
    pickle.dump([s.key for s in storages], out, protocol=2)
    for storage in storages:
        out.write(struct.pack("<q", storage.array.size) + storage.array.tobytes())
    return out.getvalue()


def zip_checkpoint(tensors: Mapping[str, NDArray[Any]]) -> bytes:
    """The torch >= 1.6 layout: archive/data.pkl plus one file per storage."""
    body, storages = _pickle_state(tensors)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("archive/data.pkl", body)
        archive.writestr("archive/version", "3\n")
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.array.tobytes())
    return out.getvalue()
