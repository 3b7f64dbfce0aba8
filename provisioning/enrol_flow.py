"""The enrolment steps the page and the API share: checks before analysis, analysing the photos,
and saving consent plus templates in one transaction (photos kept only when enabled). A face
confusable with another resident's sets both people to two factors in that same transaction,
audited (gateway.access.confusable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Request
from sqlalchemy.orm import Session

from gateway.access.confusable import ConfusablePair, mark_confusable
from gateway.store.credentials import (
    has_alternative_credential,
    record_consent,
    store_face_template,
)
from gateway.store.people import get_person
from gateway.store.schema_people import Person
from gateway.vision.analyser import FaceAnalyser
from gateway.vision.decision import DecisionRule
from gateway.vision.factory import effective_thresholds
from gateway.vision.recogniser import rule_from_config
from provisioning.auth import Principal
from provisioning.deps import ProvisioningDeps
from provisioning.enrol_analysis import Others, analyse_photo, load_others
from provisioning.enrol_session import PhotoResult
from provisioning.i18n import Translator
from provisioning.web import AppContext, audit, client_address


class EnrolRefused(Exception):
    """Enrolment cannot go on; `key` is the message key shown to staff."""

    def __init__(self, key: str, status: int = 400) -> None:
        super().__init__(key)
        self.key = key
        self.status = status


@dataclass(frozen=True)
class EnrolSaved:
    """What a save stored: templates, and the people set to two factors by it."""

    templates: int
    confusable_with: list[int] = field(default_factory=list)
    two_factor_set: list[int] = field(default_factory=list)


def door_rule(deps: ProvisioningDeps) -> DecisionRule:
    """The door's decision rule: the running service's, else built like the service builds it."""
    if deps.decision_rule is not None:
        return deps.decision_rule
    vision = deps.gateway_config.vision
    if deps.models is not None:
        resident, _watch = effective_thresholds(deps.models, vision)
        return rule_from_config(vision, resident, deps.models.small_gallery_threshold)
    return rule_from_config(vision, deps.similarity_threshold)


def prepare(context: AppContext, person_id: int) -> tuple[FaceAnalyser, Person, Others]:
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
        others = load_others(
            session, deps.store.cipher, deps.pipeline, person_id, deps.clock(), door_rule(deps)
        )
    return deps.pipeline, person, others


def analyse_all(
    context: AppContext,
    pipeline: FaceAnalyser,
    photos: list[tuple[str, bytes]],
    others: Others,
    t: Translator,
) -> list[PhotoResult]:
    deps = context.deps
    if not photos:
        raise EnrolRefused("no_usable_photo")
    results = [
        analyse_photo(pipeline, name, data, others, t)
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
) -> EnrolSaved:
    """Consent first, then one template per usable photo, then two factors for both people of
    every confusable pair, one transaction.

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
        pairs = _confusable_pairs(person_id, usable)
        changed = mark_confusable(
            session,
            pairs,
            actor=user.username,
            at=deps.clock(),
            model_id=deps.pipeline.model_id,
            source_address=client_address(request),
        )
    deps.people_changed()
    others = sorted({p.first if p.second == person_id else p.second for p in pairs})
    return EnrolSaved(saved, others, changed)


def _confusable_pairs(person_id: int, photos: list[PhotoResult]) -> list[ConfusablePair]:
    best: dict[int, float] = {}
    for photo in photos:
        for other, score in photo.confusable.items():
            best[other] = max(score, best.get(other, -2.0))
    return [
        ConfusablePair(min(person_id, other), max(person_id, other), score)
        for other, score in sorted(best.items())
    ]


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
