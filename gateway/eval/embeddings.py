"""Run the pipeline over image files: one face per image (the LFW centre rule or the largest),
embedded whatever its quality, with the door's quality gate recorded beside each vector.

The evaluation protocols (verify, the ungated identify mode) score every face. The door does not:
a frame whose face fails the quality gate (`gateway.vision.quality`, plus the detector's
close-up flag) is never embedded or judged, and enrolment refuses such a photo and any photo with
more than one face. Each embedded image therefore also records the gate's failing reasons
(`gate`, empty: passed) and how many faces were detected (`faces`), so a replay can act like the
door (`door_frame`) and the enrolment check (`enrolment_photo`) without embedding again.

Images that cannot be read, have no face, or whose landmarks cannot be aligned map to None; the
callers count them and treat them as non-matches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.vision.align import AlignmentError, align_face
from gateway.vision.detector import Detection
from gateway.vision.embedder import Vector
from gateway.vision.errors import ImageDecodeError, ModelOutputError
from gateway.vision.image_io import BGRImage, read_image
from gateway.vision.pipeline import FacePipeline, central_face
from gateway.vision.quality import QualityReason, assess_quality

log = logging.getLogger(__name__)

PROGRESS_EVERY = 250


@dataclass
class EmbeddedImages:
    """Embeddings by image path (relative to the dataset root); None where no face was usable.

    `gate[path]`: the door's quality-gate reasons the embedded face fails (empty: it passes);
    `faces[path]`: faces detected in the image (enrolment accepts exactly one)."""

    vectors: dict[str, Vector] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # path -> why it has no vector
    gate: dict[str, tuple[str, ...]] = field(default_factory=dict)
    faces: dict[str, int] = field(default_factory=dict)

    @property
    def no_face(self) -> int:
        return len(self.failures)

    def door_frame(self, path: str) -> bool:
        """The door would judge this image's face: embedded, and it passes the quality gate."""
        return path in self.vectors and not self.gate.get(path, ())

    def enrolment_photo(self, path: str) -> bool:
        """Enrolment would accept this photo: one face, passing the gate (liveness not replayed:
        the sets are photographs of people, not captures at the door)."""
        return self.door_frame(path) and self.faces.get(path, 1) == 1

    def subset(self, wanted: set[str]) -> EmbeddedImages:
        """Only the entries for `wanted` paths."""
        return EmbeddedImages(
            {p: v for p, v in self.vectors.items() if p in wanted},
            {p: r for p, r in self.failures.items() if p in wanted},
            {p: g for p, g in self.gate.items() if p in wanted},
            {p: n for p, n in self.faces.items() if p in wanted},
        )

    def update(self, other: EmbeddedImages) -> None:
        self.vectors.update(other.vectors)
        self.failures.update(other.failures)
        self.gate.update(other.gate)
        self.faces.update(other.faces)


def largest_face(detections: list[Detection]) -> Detection | None:
    """The detection with the biggest box area."""
    if not detections:
        return None
    return max(detections, key=lambda d: d.box[2] * d.box[3])


def load_frame(root: Path, relative: str) -> BGRImage:
    """Read `root/relative` as a BGR frame (ImageDecodeError if unreadable)."""
    return read_image(root / relative)


def gate_reasons(pipeline: FacePipeline, frame: BGRImage, face: Detection) -> tuple[str, ...]:
    """What the door's gate (`FacePipeline._gate`) says about `face`: its failing reasons."""
    crop = align_face(frame, face.landmarks, pipeline.alignment)
    report = assess_quality(frame, face.landmarks, crop, pipeline.config.quality)
    reasons = [reason.value for reason in report.reasons]
    if face.close_up:
        reasons.append(QualityReason.TOO_CLOSE.value)
    return tuple(reasons)


def embed_images(pipeline: FacePipeline, root: Path, paths: Iterable[str]) -> EmbeddedImages:
    """Embed the face nearest the centre of every distinct image in `paths`, recording the gate."""
    result = EmbeddedImages()
    unique = sorted(set(paths))
    for index, relative in enumerate(unique, start=1):
        try:
            frame = load_frame(root, relative)
            height, width = frame.shape[:2]
            detections = pipeline.detect(frame)
            face = central_face(detections, width, height)
            if face is None:
                result.failures[relative] = "no face detected"
                continue
            result.gate[relative] = gate_reasons(pipeline, frame, face)
            result.faces[relative] = len(detections)
            result.vectors[relative] = pipeline.embed_face(frame, face)
        except ImageDecodeError as error:
            result.failures[relative] = f"unreadable: {error}"
        except (AlignmentError, ModelOutputError) as error:
            result.failures[relative] = f"not embeddable: {error}"
        if relative not in result.vectors:
            result.gate.pop(relative, None)
            result.faces.pop(relative, None)
        if index % PROGRESS_EVERY == 0:
            log.info("embedded %d/%d images", index, len(unique))
    return result
