"""The development sets every threshold calibration runs on, read from the shared faces folder.

- `lfw`: faces/lfw/identities.csv (every image of the people in the View-2 folds 1-3);
- `eastasian`: faces/eastasian/identities.csv (47 people);
- `nuaa`: the live images of every named subject in faces/antispoof/manifest.csv (NUAA webcam
  subjects, the live video frames, the tight live crops) together with the NUAA subjects of
  faces/eastasian, an image present in both counted once (same bytes);
- `deepface`: faces/deepface_unit/manifest.csv (13 labelled people; unlabelled rows skipped).

Known aliases (one person under two names, e.g. LFW's Hasan_Wirayuda / Hassan_Wirajuda) and label
errors (one image filed under the wrong person) are read from `known_aliases.csv` beside this
module and corrected before anything is scored, so a real alias is never mistaken for the highest
"impostor". A row without `image` relabels every image of `label`; a row with `image` (a path as
the set lists it) relabels that one image of `label`. Every row was looked at by eye and says why.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.eval.datasets import DatasetError, LabelledImage, read_identities

ALIASES_FILE = Path(__file__).with_name("known_aliases.csv")
SET_NAMES = ("lfw", "eastasian", "nuaa", "deepface")


@dataclass(frozen=True)
class Alias:
    """`label` in `dataset` (only its image `image`, when given) is the person `same_as`;
    `evidence` says how we know."""

    dataset: str
    label: str
    same_as: str
    evidence: str
    image: str = ""

    def describe(self) -> str:
        if self.image:
            return f"{self.image} ({self.label}) is {self.same_as}"
        return f"{self.label} = {self.same_as}"


@dataclass(frozen=True)
class DevSet:
    """One development set: labelled images (paths relative to the faces folder)."""

    name: str
    images: tuple[LabelledImage, ...]
    aliases_applied: tuple[Alias, ...] = ()

    @property
    def identities(self) -> int:
        return len({image.label for image in self.images})


def read_aliases(path: Path = ALIASES_FILE) -> list[Alias]:
    """Rows of the `dataset,label,same_as,evidence` CSV."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as error:
        raise DatasetError(f"{path}: cannot open ({error.strerror or error})") from None
    aliases = []
    with handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            values = [(row.get(key) or "").strip() for key in ("dataset", "label", "same_as")]
            if not all(values):
                raise DatasetError(f"{path}:{line}: dataset, label and same_as are required")
            dataset, label, same_as = values
            evidence = (row.get("evidence") or "").strip()
            if not evidence:
                raise DatasetError(f"{path}:{line}: evidence is required (how was it checked?)")
            image = (row.get("image") or "").strip()
            aliases.append(Alias(dataset, label, same_as, evidence, image))
    return aliases


def apply_aliases(
    name: str, images: list[LabelledImage], aliases: list[Alias]
) -> tuple[list[LabelledImage], tuple[Alias, ...]]:
    """Relabel every alias and label error of set `name` (image rows first, then whole names)."""
    mine = [a for a in aliases if a.dataset == name]
    by_image = {(a.image, a.label): a for a in mine if a.image}
    by_label = {a.label: a for a in mine if not a.image}
    present = {(image.path, image.label) for image in images}
    applied = tuple(
        [a for key, a in sorted(by_image.items()) if key in present]
        + [a for label, a in sorted(by_label.items()) if label in {p[1] for p in present}]
    )
    relabelled = []
    for image in images:
        fixed = by_image.get((image.path, image.label))
        label = fixed.same_as if fixed else image.label
        alias = by_label.get(label)
        relabelled.append(LabelledImage(image.path, alias.same_as if alias else label))
    return relabelled, applied


def merge_known_aliases(
    images: list[LabelledImage], aliases: list[Alias] | None = None
) -> tuple[list[LabelledImage], tuple[Alias, ...]]:
    """Every known alias (of any set) whose label appears in `images`, merged: for identities
    CSVs that do not say which set they come from (`menwei eval identify`)."""
    known = read_aliases() if aliases is None else aliases
    merged = images
    applied: tuple[Alias, ...] = ()
    for dataset in sorted({alias.dataset for alias in known}):
        merged, more = apply_aliases(dataset, merged, known)
        applied += more
    return merged, applied


def _lfw(faces: Path) -> list[LabelledImage]:
    return read_identities(faces / "lfw" / "identities.csv")


def _eastasian(faces: Path) -> list[LabelledImage]:
    return read_identities(faces / "eastasian" / "identities.csv")


def _deepface(faces: Path) -> list[LabelledImage]:
    with (faces / "deepface_unit" / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [LabelledImage(r["path"], r["label"]) for r in rows if (r.get("label") or "").strip()]


def _nuaa(faces: Path) -> list[LabelledImage]:
    with (faces / "antispoof" / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    candidates = [
        LabelledImage(r["path"], r["subject"].strip())
        for r in rows
        if r["liveness_label"] == "live" and (r.get("subject") or "").strip()
    ]
    candidates += [i for i in _eastasian(faces) if i.label.startswith("nuaa_")]
    seen: dict[str, LabelledImage] = {}
    for image in candidates:
        digest = hashlib.sha256((faces / image.path).read_bytes()).hexdigest()
        kept = seen.setdefault(digest, image)
        if kept.label != image.label:
            raise DatasetError(f"{image.path} and {kept.path} are one file with two labels")
    return list(seen.values())


_READERS: Mapping[str, Callable[[Path], list[LabelledImage]]] = {
    "lfw": _lfw,
    "eastasian": _eastasian,
    "nuaa": _nuaa,
    "deepface": _deepface,
}


def load_dev_set(name: str, faces: Path, aliases: list[Alias] | None = None) -> DevSet:
    """One development set with its known aliases merged."""
    if name not in _READERS:
        raise DatasetError(f"unknown development set {name!r} (sets: {', '.join(SET_NAMES)})")
    try:
        images = _READERS[name](faces)
    except OSError as error:
        raise DatasetError(f"development set {name}: {error}") from None
    relabelled, applied = apply_aliases(
        name, images, read_aliases() if aliases is None else aliases
    )
    return DevSet(name, tuple(relabelled), applied)
