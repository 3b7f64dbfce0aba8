"""Checking enrolment photos before anything is saved (the analysis half of `Enrolment`):
decode, one face only, quality gate, liveness, embedding, and the confusable search against
everyone else's templates with the door's own rule (effective resident threshold minus its
margin, gateway.access.confusable): a hit is shown as a warning naming the other person, and
saving sets both people to two factors.

Each photo gets messages (through the adapter's `Translate`: message key and parameters) and the
measured figures (face size, pose, sharpness, brightness, liveness) so staff can see why a photo
is refused and take a better one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.access.confusable import confusable_threshold, scores_by_person
from gateway.store.crypto import TemplateCipher
from gateway.store.gallery_load import GalleryRow, load_gallery_rows
from gateway.store.schema_people import Person
from gateway.vision.analyser import FaceAnalyser
from gateway.vision.decision import DecisionRule
from gateway.vision.errors import ImageDecodeError
from gateway.vision.image_io import DEFAULT_LIMITS, DecodeLimits, decode_image

# A message key and its parameters -> the text staff read (the staff page's Translator).
Translate = Callable[..., str]


@dataclass
class PhotoResult:
    """One analysed photo: what the page shows and, when usable, the embedding to save."""

    name: str
    faces: int
    usable: bool
    messages: list[str]
    measures: dict[str, str]
    embedding: npt.NDArray[np.float32] | None = None
    duplicate_of: str | None = None
    duplicate_score: float | None = None
    # Other residents this face is confusable with (person id -> best score): saving sets both
    # to two factors.
    confusable: dict[int, float] = field(default_factory=dict)
    photo: bytes | None = None


@dataclass(frozen=True)
class Others:
    """Everyone else the door would recognise now, and the confusable threshold for them."""

    rows: list[GalleryRow]
    labels: dict[int, str]
    threshold: float


def load_others(
    session: Session,
    cipher: TemplateCipher,
    pipeline: FaceAnalyser,
    person_id: int,
    at: datetime,
    rule: DecisionRule,
) -> Others:
    """Templates of every valid person except `person_id`, a label for each, and the score at
    which the new face is confusable with them (the gallery will hold them plus this person)."""
    load = load_gallery_rows(session, cipher, pipeline.model_id, pipeline.embedder.dimension, at)
    rows = [row for row in load.rows if row.person_id != person_id]
    ids = {row.person_id for row in rows}
    labels: dict[int, str] = {}
    if ids:
        for person in session.scalars(select(Person).where(Person.id.in_(ids))):
            name = f" ({person.display_name})" if person.display_name else ""
            labels[person.id] = f"{person.external_id}{name}"
    return Others(rows, labels, confusable_threshold(rule, len(ids) + 1))


def analyse_photo(
    pipeline: FaceAnalyser,
    name: str,
    data: bytes,
    others: Others,
    t: Translate,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> PhotoResult:
    """One photo's verdict; `usable` only with exactly one face that passes every check."""
    try:
        frame = decode_image(data, name=name, limits=limits)
    except ImageDecodeError:
        return PhotoResult(name, 0, False, [t("not_image")], {})
    faces = pipeline.analyse(frame, check_liveness=True)
    if not faces:
        return PhotoResult(name, 0, False, [t("no_face")], {})
    if len(faces) > 1:
        return PhotoResult(name, len(faces), False, [t("many_faces", n=len(faces))], {})
    face = faces[0]
    messages: list[str] = []
    measures: dict[str, str] = {"face": t("face_found")}
    quality = face.quality
    if quality is not None:
        measures["size"] = f"{quality.eye_distance_px:.0f} px"
        measures["pose"] = f"yaw {quality.pose.yaw_deg:.0f}°, pitch {quality.pose.pitch_deg:.0f}°"
        measures["sharpness"] = f"{quality.sharpness:.0f}"
        measures["brightness"] = f"{quality.brightness:.0f}"
        messages.extend(t(f"quality_{reason.value}") for reason in quality.reasons)
    if face.error:
        messages.append(face.error)
    liveness_ok = True
    config = pipeline.config.liveness
    if face.liveness is not None:
        measures["liveness"] = f"{face.liveness.score:.2f}"
        liveness_ok = face.liveness.passed(config.threshold)
        if not liveness_ok:
            messages.append(t("liveness_low"))
    usable = face.usable and liveness_ok and not messages
    result = PhotoResult(name, 1, usable, messages, measures)
    if usable and face.embedding is not None:
        result.embedding = np.asarray(face.embedding, np.float32)
        scores = scores_by_person(others.rows, result.embedding)
        result.confusable = {p: s for p, s in scores.items() if s >= others.threshold}
        if result.confusable:
            closest = max(result.confusable, key=lambda person: result.confusable[person])
            result.duplicate_of = others.labels.get(closest, str(closest))
            result.duplicate_score = result.confusable[closest]
    return result
