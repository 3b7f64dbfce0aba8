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
