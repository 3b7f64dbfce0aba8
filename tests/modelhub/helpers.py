"""Helpers shared by the modelhub tests: flipping a byte, copying a pack out of the mirror."""

from __future__ import annotations

import shutil
from pathlib import Path

from gateway.modelhub.manifest import Pack


def flip_byte(path: Path, offset: int | None = None) -> None:
    """Invert one byte in place (the middle one by default); size and name stay the same."""
    data = bytearray(path.read_bytes())
    index = len(data) // 2 if offset is None else offset
    data[index] ^= 0xFF
    path.write_bytes(bytes(data))


def copy_pack(pack: Pack, mirror: Path, dest: Path) -> None:
    """Plain copy of a pack's files (no verification), to set up resolve/verify tests."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in pack.models:
        shutil.copyfile(mirror / entry.file, dest / entry.file)


def install_mobilefacenet(mirror: Path, dest: Path) -> Path:
    """A model folder holding the `mobilefacenet` pack: the embedder fetched the way a site gets it
    (npm registry tarball, cached in the user cache dir, built by menwei's converter), the detector
    and liveness models copied from the mirror. Returns `dest`."""
    from gateway.modelhub import load_manifest
    from gateway.modelhub.fetch import fetch_model
    from gateway.modelhub.npm_source import default_cache_dir

    pack = load_manifest().pack("mobilefacenet")
    result = fetch_model(pack.embedder, dest, mirror=None, cache_dir=default_cache_dir())
    assert result.action in ("installed", "present"), result
    for entry in (pack.detector, *pack.liveness):
        shutil.copyfile(mirror / entry.file, dest / entry.file)
    return dest
