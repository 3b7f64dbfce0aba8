"""Enrolment: the one command that turns checked photos into a person's face templates.

The staff page (uploaded photos or a short door capture, in two steps: analyse, then save), the
JSON API (one request) and the demo (a folder of photos) all call it. `prepare` refuses early
(no pipeline, erased person, no card or PIN to fall back on) and loads everyone else's templates
for the confusable check; `analyse` checks each photo (enrol_photos); `save` records consent,
then one template per usable photo (the photo kept only when enabled), then two factors for both
people of every confusable pair (gateway.access.confusable), with one audit row, in one
transaction, and then reloads the running door's galleries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from gateway.access.confusable import ConfusablePair, mark_confusable
from gateway.application.actor import Actor
from gateway.application.enrol_photos import (
    Others,
    PhotoResult,
    Translate,
    analyse_photo,
    load_others,
)
from gateway.application.refused import Refused
from gateway.store.alerts_audit import append_audit
from gateway.store.credentials import (
    has_alternative_credential,
    record_consent,
    store_face_template,
)
from gateway.store.people import get_person
from gateway.store.schema_people import Person
from gateway.store.store import Store
from gateway.vision.analyser import FaceAnalyser
from gateway.vision.decision import DecisionRule
from gateway.vision.image_io import DEFAULT_LIMITS, DecodeLimits


class EnrolRefused(Refused):
    """Enrolment cannot go on; `key` (= `code`) is the message key shown to staff, `status` the
    HTTP status the API answers with."""

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


@dataclass(frozen=True)
class EnrolSettings:
    """The site's enrolment settings (`[provisioning]`) and the photo decode limits."""

    consent_text_version: str
    max_photos: int
    keep_photos: bool = False
    photo_dir: Path = Path("photos")
    limits: DecodeLimits = DEFAULT_LIMITS


class Enrolment:
    def __init__(
        self,
        store: Store,
        pipeline: FaceAnalyser | None,
        rule: DecisionRule,
        settings: EnrolSettings,
        *,
        now: Callable[[], datetime],
        people_changed: Callable[[], object] = lambda: None,
    ) -> None:
        self._store = store
        self._pipeline = pipeline
        self._rule = rule
        self._settings = settings
        self._now = now
        self._people_changed = people_changed

    @property
    def pipeline(self) -> FaceAnalyser | None:
        return self._pipeline

    def prepare(self, person_id: int) -> tuple[FaceAnalyser, Person, Others]:
        """The pipeline, the person and everyone else's templates; refuses early when it cannot
        work. Raises NotFound for an unknown person."""
        pipeline = self._pipeline
        if pipeline is None:
            raise EnrolRefused("pipeline_missing", 503)
        with self._store.sessions.reading() as session:
            person = get_person(session, person_id)
            if person.erased_at is not None:
                raise EnrolRefused("not_found", 404)
            if not has_alternative_credential(session, person_id):
                raise EnrolRefused("needs_other_credential")
            others = load_others(
                session, self._store.cipher, pipeline, person_id, self._now(), self._rule
            )
        return pipeline, person, others

    def analyse(
        self,
        pipeline: FaceAnalyser,
        photos: list[tuple[str, bytes]],
        others: Others,
        t: Translate,
    ) -> list[PhotoResult]:
        """Each photo's verdict (at most `max_photos`); the bytes are kept on a usable result
        only when photos are kept."""
        if not photos:
            raise EnrolRefused("no_usable_photo")
        limits = self._settings.limits
        results = [
            analyse_photo(pipeline, name, data, others, t, limits)
            for name, data in photos[: self._settings.max_photos]
        ]
        if self._settings.keep_photos:
            for result, (_name, data) in zip(results, photos, strict=False):
                result.photo = data if result.usable else None
        return results

    def enrol(
        self,
        actor: Actor,
        person_id: int,
        photos: list[tuple[str, bytes]],
        consent_at: datetime,
        t: Translate,
    ) -> tuple[EnrolSaved | None, list[PhotoResult]]:
        """prepare + analyse + save in one call (the demo, scripts): None saved when no photo
        was usable. A confusable face is saved (both people then need two factors)."""
        pipeline, _person, others = self.prepare(person_id)
        results = self.analyse(pipeline, photos, others, t)
        if not any(r.usable for r in results):
            return None, results
        return self.save(actor, person_id, results, consent_at), results

    def save(
        self, actor: Actor, person_id: int, photos: list[PhotoResult], consent_at: datetime
    ) -> EnrolSaved:
        """Consent first, then one template per usable photo, then two factors for both people
        of every confusable pair, one transaction with its audit row.

        Raises CredentialPolicyError (no card/PIN, erased) or NotFound from the store.
        """
        usable = [p for p in photos if p.usable and p.embedding is not None]
        pipeline = self._pipeline
        if not usable or pipeline is None:
            raise EnrolRefused("no_usable_photo")
        with self._store.sessions.writing() as session:
            record_consent(
                session,
                person_id,
                text_version=self._settings.consent_text_version,
                taken_by=actor.name,
                taken_at=consent_at,
            )
            saved = self._store_templates(session, person_id, usable, pipeline.model_id)
            append_audit(
                session,
                actor=actor.name,
                action="enrol_face",
                target=f"person:{person_id} templates:{saved}",
                occurred_at=self._now(),
                source_address=actor.source_address,
            )
            pairs = confusable_pairs(person_id, usable)
            changed = mark_confusable(
                session,
                pairs,
                actor=actor.name,
                at=self._now(),
                model_id=pipeline.model_id,
                source_address=actor.source_address,
            )
        self._people_changed()
        others = sorted({p.first if p.second == person_id else p.second for p in pairs})
        return EnrolSaved(saved, others, changed)

    def _store_templates(
        self, session: Session, person_id: int, photos: list[PhotoResult], model: str
    ) -> int:
        folder = self._settings.photo_dir / str(person_id)
        for photo in photos:
            assert photo.embedding is not None
            template = store_face_template(
                session, self._store.cipher, person_id, photo.embedding, model
            )
            if self._settings.keep_photos and photo.photo is not None:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{template.id}.jpg").write_bytes(photo.photo)
            photo.photo = None
        return len(photos)


def confusable_pairs(person_id: int, photos: list[PhotoResult]) -> list[ConfusablePair]:
    """Each other person a photo is confusable with, at the best score of any photo."""
    best: dict[int, float] = {}
    for photo in photos:
        for other, score in photo.confusable.items():
            best[other] = max(score, best.get(other, -2.0))
    return [
        ConfusablePair(min(person_id, other), max(person_id, other), score)
        for other, score in sorted(best.items())
    ]
