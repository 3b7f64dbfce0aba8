"""Run the pipeline over image files: one face per image (the LFW centre rule or the largest),
embedded without the quality gate, as the evaluation protocols require.

Images that cannot be read, have no face, or whose landmarks cannot be aligned map to None; the
callers count them and treat them as non-matches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.vision.align import AlignmentError
from gateway.vision.detector import Detection
from gateway.vision.embedder import Vector
from gateway.vision.errors import ImageDecodeError, ModelOutputError
from gateway.vision.image_io import BGRImage, read_image
from gateway.vision.pipeline import FacePipeline, central_face

log = logging.getLogger(__name__)

PROGRESS_EVERY = 250


@dataclass
class EmbeddedImages:
    """Embeddings by image path (relative to the dataset root); None where no face was usable."""

    vectors: dict[str, Vector] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # path -> why it has no vector

    @property
    def no_face(self) -> int:
        return len(self.failures)


def largest_face(detections: list[Detection]) -> Detection | None:
    """The detection with the biggest box area."""
    if not detections:
        return None
    return max(detections, key=lambda d: d.box[2] * d.box[3])


def load_frame(root: Path, relative: str) -> BGRImage:
    """Read `root/relative` as a BGR frame (ImageDecodeError if unreadable)."""
    return read_image(root / relative)


def embed_images(pipeline: FacePipeline, root: Path, paths: Iterable[str]) -> EmbeddedImages:
    """Embed the face nearest the centre of every distinct image in `paths`."""
    result = EmbeddedImages()
    unique = sorted(set(paths))
    for index, relative in enumerate(unique, start=1):
        try:
            frame = load_frame(root, relative)
            height, width = frame.shape[:2]
            face = central_face(pipeline.detect(frame), width, height)
            if face is None:
                result.failures[relative] = "no face detected"
                continue
            result.vectors[relative] = pipeline.embed_face(frame, face)
        except ImageDecodeError as error:
            result.failures[relative] = f"unreadable: {error}"
        except (AlignmentError, ModelOutputError) as error:
            result.failures[relative] = f"not embeddable: {error}"
        if index % PROGRESS_EVERY == 0:
            log.info("embedded %d/%d images", index, len(unique))
    return result
