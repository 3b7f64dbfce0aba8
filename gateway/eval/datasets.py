"""Readers for the evaluation CSV files (LFW pairs, identity lists, liveness manifests).

Each reader checks the header and every row, and raises `DatasetError` naming the file and line
for anything malformed, so a bad CSV never turns into a silently wrong figure.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class DatasetError(ValueError):
    """A dataset file is missing, has the wrong columns, or a malformed row."""


@dataclass(frozen=True)
class VerificationPair:
    """One row of a pairs CSV: fold, whether both images show the same person, two image paths."""

    fold: int
    same: bool
    path1: str
    path2: str


@dataclass(frozen=True)
class LabelledImage:
    """One row of an identities CSV: an image path and the identity it shows."""

    path: str
    label: str


@dataclass(frozen=True)
class LivenessSample:
    """One row of a liveness manifest: image path, live or spoof, and the attack type."""

    path: str
    live: bool
    attack_type: str


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as error:
        raise DatasetError(f"{path}: cannot open ({error.strerror or error})") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [name for name in required if name not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(
                f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(required)}"
            )
        for line, row in enumerate(reader, start=2):
            if any(not (row.get(name) or "").strip() for name in required):
                raise DatasetError(f"{path}:{line}: empty value in {', '.join(required)}")
            yield line, {name: row[name].strip() for name in required}


def _flag(path: Path, line: int, value: str, true: str, false: str) -> bool:
    if value == true:
        return True
    if value == false:
        return False
    raise DatasetError(f"{path}:{line}: expected {true!r} or {false!r}, got {value!r}")


def read_pairs(path: Path) -> list[VerificationPair]:
    """Rows of a `fold,same,path1,path2` CSV (same is 1 or 0)."""
    pairs = []
    for line, row in _rows(path, ("fold", "same", "path1", "path2")):
        try:
            fold = int(row["fold"])
        except ValueError:
            raise DatasetError(f"{path}:{line}: fold {row['fold']!r} is not an integer") from None
        same = _flag(path, line, row["same"], "1", "0")
        pairs.append(VerificationPair(fold, same, row["path1"], row["path2"]))
    if not pairs:
        raise DatasetError(f"{path}: no pairs")
    return pairs


def read_identities(path: Path) -> list[LabelledImage]:
    """Rows of a `path,label` CSV."""
    images = [LabelledImage(row["path"], row["label"]) for _, row in _rows(path, ("path", "label"))]
    if not images:
        raise DatasetError(f"{path}: no images")
    return images


def read_liveness_manifest(path: Path) -> list[LivenessSample]:
    """Rows of a `path,liveness_label,attack_type` CSV (label live or spoof)."""
    samples = []
    for line, row in _rows(path, ("path", "liveness_label", "attack_type")):
        live = _flag(path, line, row["liveness_label"], "live", "spoof")
        samples.append(
            LivenessSample(row["path"], live, "bona_fide" if live else row["attack_type"])
        )
    if not samples:
        raise DatasetError(f"{path}: no samples")
    return samples
