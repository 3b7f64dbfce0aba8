"""Rebuild a `bundled` model from its official source (`menwei models fetch --upstream`).

Without a converter the official URL serves the model file itself (YuNet). With one, it serves
weights to convert (minivision's `.pth` checkpoints): the download is checked against the pinned
`upstream_sha256` before a single byte is parsed, converted in memory, and the ONNX is accepted
only when its sha256 is the manifest's `sha256`, i.e. exactly the file the package bundles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import requests

from gateway.modelhub import minifasnet_convert
from gateway.modelhub.manifest import ModelEntry
from gateway.modelhub.torch_checkpoint import MAX_CHECKPOINT_BYTES

TIMEOUT_S = 60.0
_CHUNK = 1 << 20

# Converters a `bundled` source may name: official weights bytes -> ONNX bytes.
CHECKPOINT_CONVERTERS: Mapping[str, Callable[[bytes], bytes]] = {
    "gateway.modelhub.minifasnet_convert": minifasnet_convert.convert_checkpoint,
}


class UpstreamError(Exception):
    """The official source could not give the pinned bytes; the message says why."""


def download(url: str, limit: int = MAX_CHECKPOINT_BYTES) -> bytes:
    """The body at `url`, refused once it grows past `limit` bytes."""
    parts: list[bytes] = []
    total = 0
    with requests.get(url, stream=True, timeout=TIMEOUT_S) as response:
        response.raise_for_status()
        for chunk in response.iter_content(_CHUNK):
            total += len(chunk)
            if total > limit:
                raise UpstreamError(f"{url}: more than {limit} bytes; refused")
            parts.append(chunk)
    return b"".join(parts)


def build_from_checkpoint(entry: ModelEntry) -> bytes:
    """Download `entry.url`, check it, convert it; the ONNX bytes whose sha256 is entry.sha256."""
    source = entry.source
    converter = CHECKPOINT_CONVERTERS.get(source.converter or "")
    if converter is None or source.upstream_sha256 is None:
        raise UpstreamError(f"{entry.id}: unknown checkpoint converter {source.converter!r}")
    weights = download(entry.url)
    actual = hashlib.sha256(weights).hexdigest()
    if actual != source.upstream_sha256:
        raise UpstreamError(
            f"{entry.id}: the download from {entry.url} ({len(weights)} bytes) has sha256 "
            f"{actual}, not the pinned {source.upstream_sha256} (truncated or changed upstream); "
            "refused before conversion, nothing written"
        )
    onnx_bytes = converter(weights)
    built = hashlib.sha256(onnx_bytes).hexdigest()
    if built != entry.sha256:
        raise UpstreamError(
            f"{entry.id}: {source.converter} built {entry.file} with sha256 {built}, not the "
            f"pinned {entry.sha256}; refused (nothing written). The bundled copy is the same "
            "network: install it without --upstream"
        )
    return onnx_bytes
