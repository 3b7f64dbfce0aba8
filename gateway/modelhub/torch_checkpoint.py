"""Read the tensors of a PyTorch checkpoint (`.pth`) without PyTorch and without trusting it.

A checkpoint is a pickle; plain `pickle.load` on downloaded bytes runs whatever the pickle names.
Here the pickle goes through `_RestrictedUnpickler`, which resolves only the handful of globals a
state dict needs (OrderedDict, torch's tensor rebuild function, the typed storage classes) to
inert stand-ins of our own; anything else is a `CheckpointError`. Two layouts exist:

- legacy (torch < 1.6, what minivision publishes): five pickles in a row (magic number, protocol
  version, system info, the state dict, the list of storage keys), then each storage's raw bytes
  as an int64 element count followed by the elements, in key-list order;
- zip (torch >= 1.6): `<root>/data.pkl` plus one `<root>/data/<key>` file per storage.

Every tensor is checked against its storage's bounds; a short file is "truncated", never a
partly filled array.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
MAX_CHECKPOINT_BYTES = 256 << 20  # MiniFASNet is ~1.8 MB; refuse anything absurd up front
# torch storage class name -> numpy little-endian dtype
STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class CheckpointError(ValueError):
    """The checkpoint is malformed, truncated, or asks the unpickler for something not allowed."""


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for torch.FloatStorage & co: only its dtype matters."""

    name: str

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(STORAGE_DTYPES[self.name])


@dataclass
class _Storage:
    """A storage named by the pickle; its bytes are attached once read."""

    key: str
    dtype: np.dtype[Any]
    numel: int
    data: NDArray[Any] | None = None


@dataclass(frozen=True)
class _TensorRef:
    """What torch._utils._rebuild_tensor_v2 was asked to build: a strided view of a storage."""

    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(
    storage: Any, offset: Any, size: Any, stride: Any, *_ignored: Any
) -> _TensorRef:
    if not isinstance(storage, _Storage):
        raise CheckpointError("a tensor refers to something that is not a storage")
    try:
        shape = tuple(int(v) for v in size)
        strides = tuple(int(v) for v in stride)
        start = int(offset)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"malformed tensor record: {error}") from None
    if len(shape) != len(strides) or start < 0 or min((*shape, *strides, 0)) < 0:
        raise CheckpointError(f"malformed tensor record: size {shape}, stride {strides}")
    return _TensorRef(storage, start, shape, strides)


_ALLOWED_GLOBALS: Mapping[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can build a state dict and nothing else."""

    def __init__(
        self, stream: io.BytesIO, storage_for: Callable[[tuple[Any, ...]], _Storage] | None
    ) -> None:
        super().__init__(stream)
        self._storage_for = storage_for

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise CheckpointError(
                f"the checkpoint's pickle asks for {module}.{name}, which a state dict never "
                "needs; refused (not loaded)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        if self._storage_for is None:
            raise CheckpointError("unexpected storage reference in a checkpoint header")
        if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
            raise CheckpointError(f"unsupported persistent id {pid!r:.80}")
        return self._storage_for(pid)


def _load_pickle(
    stream: io.BytesIO, storage_for: Callable[[tuple[Any, ...]], _Storage] | None = None
) -> Any:
    try:
        return _RestrictedUnpickler(stream, storage_for).load()
    except CheckpointError:
        raise
    except EOFError:
        raise CheckpointError("checkpoint truncated (the pickle ends early)") from None
    except Exception as error:  # pickle raises many kinds on garbage; all mean "malformed"
        raise CheckpointError(f"checkpoint pickle is malformed: {error!r:.200}") from None


class _StorageTable:
    """Storages by key, created as the pickle names them (storage type, key, location, numel)."""

    def __init__(self) -> None:
        self.by_key: dict[str, _Storage] = {}

    def __call__(self, pid: tuple[Any, ...]) -> _Storage:
        if len(pid) < 5 or not isinstance(pid[1], _StorageType):
            raise CheckpointError(f"unsupported storage record {pid!r:.80}")
        key, numel = str(pid[2]), pid[4]
        if not isinstance(numel, int) or numel < 0:
            raise CheckpointError(f"storage {key}: bad element count {numel!r}")
        storage = self.by_key.get(key)
        if storage is None:
            storage = self.by_key[key] = _Storage(key, pid[1].dtype, numel)
        return storage


def _attach(storage: _Storage, raw: bytes) -> None:
    expected = storage.numel * storage.dtype.itemsize
    if len(raw) != expected:
        raise CheckpointError(
            f"checkpoint truncated: storage {storage.key} has {len(raw)} bytes, needs {expected}"
        )
    storage.data = np.frombuffer(raw, dtype=storage.dtype)


def _read_legacy(data: bytes) -> tuple[Any, _StorageTable]:
    stream = io.BytesIO(data)
    if _load_pickle(stream) != LEGACY_MAGIC:
        raise CheckpointError("not a PyTorch checkpoint (no legacy magic number, not a zip)")
    if _load_pickle(stream) != LEGACY_PROTOCOL:
        raise CheckpointError("unsupported legacy checkpoint protocol version")
    sys_info = _load_pickle(stream)
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise CheckpointError("only little-endian checkpoints are supported")
    table = _StorageTable()
    result = _load_pickle(stream, table)
    keys = _load_pickle(stream)
    if not isinstance(keys, list) or set(map(str, keys)) != set(table.by_key):
        raise CheckpointError("the storage key list does not match the storages the tensors use")
    for key in keys:
        storage = table.by_key[str(key)]
        header = stream.read(8)
        if len(header) != 8:
            raise CheckpointError(f"checkpoint truncated before storage {storage.key}")
        (count,) = struct.unpack("<q", header)
        if count != storage.numel:
            raise CheckpointError(
                f"storage {storage.key}: {count} elements on disk, {storage.numel} declared"
            )
        _attach(storage, stream.read(count * storage.dtype.itemsize))
    if stream.read(1):
        raise CheckpointError("unexpected bytes after the last storage")
    return result, table


def _read_zip(data: bytes) -> tuple[Any, _StorageTable]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        pickles = [name for name in names if name.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise CheckpointError("zip checkpoint without exactly one data.pkl")
        root = pickles[0][: -len("data.pkl")]
        table = _StorageTable()
        result = _load_pickle(io.BytesIO(archive.read(pickles[0])), table)
        for key, storage in table.by_key.items():
            member = f"{root}data/{key}"
            if member not in names:
                raise CheckpointError(f"zip checkpoint has no storage file {member}")
            _attach(storage, archive.read(member))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as error:
        raise CheckpointError(f"zip checkpoint is damaged or truncated: {error}") from None
    return result, table


def _materialise(ref: _TensorRef, name: str) -> NDArray[Any]:
    data = ref.storage.data
    if data is None:
        raise CheckpointError(f"{name}: storage {ref.storage.key} was never read")
    last = ref.offset + sum(
        (dim - 1) * step for dim, step in zip(ref.shape, ref.stride, strict=True)
    )
    if any(dim == 0 for dim in ref.shape):
        return np.zeros(ref.shape, dtype=data.dtype)
    if last >= data.size:
        raise CheckpointError(f"{name}: tensor reaches past the end of its storage")
    itemsize = data.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        data[ref.offset :], shape=ref.shape, strides=tuple(s * itemsize for s in ref.stride)
    )
    return np.array(view, copy=True)


def read_state_dict(data: bytes) -> dict[str, NDArray[Any]]:
    """The checkpoint's tensors by name (a {"state_dict": ...} wrapper is unwrapped)."""
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint of {len(data)} bytes is larger than any we convert")
    if data[:4] == b"PK\x03\x04":
        result, _table = _read_zip(data)
    else:
        result, _table = _read_legacy(data)
    if isinstance(result, dict) and isinstance(result.get("state_dict"), dict):
        result = result["state_dict"]
    if not isinstance(result, dict):
        raise CheckpointError("the checkpoint does not hold a state dict")
    tensors: dict[str, NDArray[Any]] = {}
    for name, value in result.items():
        if not isinstance(name, str) or not isinstance(value, _TensorRef):
            raise CheckpointError(f"state dict entry {name!r:.60} is not a named tensor")
        tensors[name] = _materialise(value, name)
    return tensors
