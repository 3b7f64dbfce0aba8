"""The enrolment steps the page and the API share: checks before analysis, analysing the photos,
and saving consent plus templates in one transaction (photos kept only when enabled)."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from sqlalchemy.orm import Session

from gateway.gallery import Gallery
from gateway.store.credentials import (
    has_alternative_credential,
    record_consent,
    store_face_template,
)
from gateway.store.people import get_person
from gateway.store.schema_people import Person
from gateway.vision.pipeline import FacePipeline
from provisioning.auth import Principal
from provisioning.enrol_analysis import analyse_photo, others_gallery
from provisioning.enrol_session import PhotoResult
from provisioning.i18n import Translator
from provisioning.web import AppContext, audit


class EnrolRefused(Exception):
    """Enrolment cannot go on; `key` is the message key shown to staff."""

    def __init__(self, key: str, status: int = 400) -> None:
        super().__init__(key)
        self.key = key
        self.status = status


def prepare(
    context: AppContext, person_id: int
) -> tuple[FacePipeline, Person, Gallery, dict[str, str]]:
    """The pipeline, the person and everyone else's templates; refuses early when it cannot work.

    Raises NotFound for an unknown person.
    """
    deps = context.deps
    if deps.pipeline is None:
        raise EnrolRefused("pipeline_missing", 503)
    with deps.store.sessions.reading() as session:
        person = get_person(session, person_id)
        if person.erased_at is not None:
            raise EnrolRefused("not_found", 404)
        if not has_alternative_credential(session, person_id):
            raise EnrolRefused("needs_other_credential")
        gallery, labels = others_gallery(
            session, deps.store.cipher, deps.pipeline, person_id, deps.clock()
        )
    return deps.pipeline, person, gallery, labels


def analyse_all(
    context: AppContext,
    pipeline: FacePipeline,
    photos: list[tuple[str, bytes]],
    gallery: Gallery,
    labels: dict[str, str],
    t: Translator,
) -> list[PhotoResult]:
    deps = context.deps
    if not photos:
        raise EnrolRefused("no_usable_photo")
    results = [
        analyse_photo(pipeline, name, data, gallery, labels, deps.similarity_threshold, t)
        for name, data in photos[: deps.settings.max_photos_per_enrolment]
    ]
    if deps.settings.keep_photos:
        for result, (_name, data) in zip(results, photos, strict=False):
            result.photo = data if result.usable else None
    return results


def save_enrolment(
    context: AppContext,
    request: Request,
    user: Principal,
    person_id: int,
    photos: list[PhotoResult],
    consent_at: datetime,
) -> int:
    """Consent first, then one template per usable photo, one transaction; returns how many.

    Raises CredentialPolicyError (no card/PIN, erased) or NotFound from the store.
    """
    deps = context.deps
    usable = [p for p in photos if p.usable and p.embedding is not None]
    if not usable or deps.pipeline is None:
        raise EnrolRefused("no_usable_photo")
    with deps.store.sessions.writing() as session:
        record_consent(
            session,
            person_id,
            text_version=deps.settings.consent_text_version,
            taken_by=user.username,
            taken_at=consent_at,
        )
        saved = _store_templates(context, session, person_id, usable, deps.pipeline.model_id)
        audit(session, request, user, "enrol_face", f"person:{person_id} templates:{saved}")
    deps.people_changed()
    return saved


def _store_templates(
    context: AppContext, session: Session, person_id: int, photos: list[PhotoResult], model: str
) -> int:
    folder = context.deps.settings.photo_dir / str(person_id)
    for photo in photos:
        assert photo.embedding is not None
        template = store_face_template(
            session, context.deps.store.cipher, person_id, photo.embedding, model
        )
        if context.deps.settings.keep_photos and photo.photo is not None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{template.id}.jpg").write_bytes(photo.photo)
        photo.photo = None
    return len(photos)
