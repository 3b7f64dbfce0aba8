"""Checking enrolment photos before anything is saved: decode, one face only, quality gate,
liveness, embedding, and the duplicate search against everyone else's templates.

Each photo gets translated messages and the measured figures (face size, pose, sharpness,
brightness, liveness) so staff can see why a photo is refused and take a better one.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.gallery import Gallery
from gateway.store.crypto import TemplateCipher
from gateway.store.gallery_load import load_gallery_rows
from gateway.store.schema_people import Person
from gateway.vision.errors import ImageDecodeError
from gateway.vision.pipeline import FacePipeline
from provisioning.enrol_session import PhotoResult
from provisioning.i18n import Translator
from provisioning.photo_limits import decode_upload


def others_gallery(
    session: Session, cipher: TemplateCipher, pipeline: FacePipeline, person_id: int, at: datetime
) -> tuple[Gallery, dict[str, str]]:
    """Templates of every valid person except `person_id`, and a label for each identity."""
    gallery = Gallery(pipeline.model_id, pipeline.embedder.dimension)
    load = load_gallery_rows(session, cipher, pipeline.model_id, pipeline.embedder.dimension, at)
    ids = {row.person_id for row in load.rows if row.person_id != person_id}
    for row in load.rows:
        if row.person_id in ids:
            gallery.add(str(row.person_id), row.vector, row.model_id)
    labels: dict[str, str] = {}
    if ids:
        for person in session.scalars(select(Person).where(Person.id.in_(ids))):
            name = f" ({person.display_name})" if person.display_name else ""
            labels[str(person.id)] = f"{person.external_id}{name}"
    return gallery, labels


def analyse_photo(
    pipeline: FacePipeline,
    name: str,
    data: bytes,
    gallery: Gallery,
    labels: dict[str, str],
    duplicate_threshold: float,
    t: Translator,
) -> PhotoResult:
    """One photo's verdict; `usable` only with exactly one face that passes every check."""
    try:
        frame = decode_upload(data, name)
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
        match = gallery.search(result.embedding)
        if match is not None and match.score >= duplicate_threshold:
            result.duplicate_of = labels.get(match.identity, match.identity)
            result.duplicate_score = match.score
    return result
