"""Benchmark frames: real face photos from the shared data pasted onto a 640x480 canvas.

Photos are LFW images (one person each, face in the middle) scaled to `TILE` pixels and placed in
up to three slots side by side. Only photos that give exactly one usable face on their own are
used, so a "1-face" frame runs every stage once and a "3-face" frame three times.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from gateway.vision.errors import ImageDecodeError
from gateway.vision.image_io import BGRImage, read_image
from gateway.vision.pipeline import FacePipeline

FRAME_SIZE = (640, 480)  # width, height
TILE = 200
SLOTS = ((220, 140), (10, 140), (430, 140))  # top-left corners; the first is the centre slot


class BenchDataError(Exception):
    """The face photos the benchmark needs are missing or unusable."""


def canvas() -> BGRImage:
    """A 640x480 frame with a soft vertical gradient (a plain wall, not a flat colour)."""
    width, height = FRAME_SIZE
    ramp = np.linspace(90, 160, height, dtype=np.float32)[:, None, None]
    frame = np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8)
    return np.ascontiguousarray(frame)


def compose(photos: list[BGRImage]) -> BGRImage:
    """A frame with each photo (at most len(SLOTS)) scaled to TILE and pasted into a slot."""
    if len(photos) > len(SLOTS):
        raise ValueError(f"at most {len(SLOTS)} faces per frame")
    frame = canvas()
    for photo, (left, top) in zip(photos, SLOTS, strict=False):
        frame[top : top + TILE, left : left + TILE] = cv2.resize(
            photo, (TILE, TILE), interpolation=cv2.INTER_AREA
        )
    return frame


def candidate_paths(faces_dir: Path, limit: int) -> list[Path]:
    """Up to `limit` LFW photos of different people, spread evenly over the identities list."""
    listing = faces_dir / "lfw" / "identities.csv"
    if not listing.is_file():
        raise BenchDataError(
            f"{listing} not found: the benchmark needs the shared face photos "
            "(set MENWEI_SHARED to the shared data folder, or pass --faces)"
        )
    with listing.open(newline="", encoding="utf-8") as handle:
        first_per_person: dict[str, str] = {}
        for row in csv.DictReader(handle):
            first_per_person.setdefault(row["label"], row["path"])
    paths = [faces_dir / first_per_person[name] for name in sorted(first_per_person)]
    step = max(1, len(paths) // max(limit, 1))
    return paths[::step][:limit]


def usable_photos(pipeline: FacePipeline, faces_dir: Path, count: int) -> list[BGRImage]:
    """`count` photos that each yield exactly one usable face when pasted alone."""
    chosen: list[BGRImage] = []
    for path in candidate_paths(faces_dir, count * 4):
        try:
            photo = read_image(path)
        except ImageDecodeError:
            continue
        analyses = pipeline.analyse(compose([photo]))
        if len(analyses) == 1 and analyses[0].usable:
            chosen.append(photo)
        if len(chosen) == count:
            pipeline.timer.samples.clear()
            return chosen
    raise BenchDataError(
        f"only {len(chosen)} of {count} face photos under {faces_dir} pass the "
        "quality gate alone; the benchmark frames cannot be built"
    )
