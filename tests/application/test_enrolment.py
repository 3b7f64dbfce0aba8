"""The enrolment command without the staff page: real ONNX models, real faces from ../shared, a
real store. What the page, the API and the demo share: refusals before any analysis, consent and
templates saved with one audit row, the running door told to reload its galleries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.application.actor import Actor
from gateway.application.enrolment import Enrolment, EnrolRefused, EnrolSettings
from gateway.store.erasure import erase_person
from gateway.store.schema_credentials import FaceTemplate
from gateway.store.schema_events import AuditEntry
from gateway.store.schema_people import Consent
from gateway.store.store import Store
from gateway.vision.factory import PipelineModels, effective_thresholds
from gateway.vision.pipeline import FacePipeline
from gateway.vision.recogniser import rule_from_config
from tests.provisioning.conftest import real_models  # noqa: F401 (the session's models)
from tests.store.conftest import T0, World

pytestmark = pytest.mark.shared
OBAMA = "face_recognition_examples/images/obama/examples__obama-1080p.jpg"
OBAMA_720 = "face_recognition_examples/images/obama/examples__obama-720p.jpg"
COUPLE = "deepface_unit/images/couple.jpg"


def words(key: str, **params: object) -> str:
    """The message key itself, with its parameters (no translation needed here)."""
    return key + "".join(f" {k}={v}" for k, v in sorted(params.items()))


@pytest.fixture
def reloads() -> list[int]:
    return []


@pytest.fixture
def enrolment(
    store: Store,
    real_models: tuple[FacePipeline, PipelineModels],  # noqa: F811
    reloads: list[int],
    tmp_path: Path,
) -> Enrolment:
    pipeline, models = real_models
    resident, _watch = effective_thresholds(models, pipeline.config)
    rule = rule_from_config(pipeline.config, resident, models.small_gallery_threshold)
    settings = EnrolSettings("2026-01", max_photos=5, photo_dir=tmp_path / "photos")
    return Enrolment(
        store, pipeline, rule, settings, now=lambda: T0, people_changed=lambda: reloads.append(1)
    )


def _photos(faces_dir: Path, *names: str) -> list[tuple[str, bytes]]:
    return [(Path(n).name, (faces_dir / n).read_bytes()) for n in names]


def test_photos_become_templates_with_consent_and_one_audit_row(
    enrolment: Enrolment, store: Store, world: World, faces_dir: Path, reloads: list[int]
) -> None:
    photos = _photos(faces_dir, OBAMA, OBAMA_720, COUPLE)
    actor = Actor("guard-7", "10.0.0.9")
    saved, results = enrolment.enrol(actor, world.owner_id, photos, T0, words)
    assert [r.usable for r in results] == [True, True, False]
    assert results[2].messages == ["many_faces n=2"]
    assert saved is not None and saved.templates == 2
    with store.sessions.reading() as session:
        templates = session.scalars(
            select(FaceTemplate).where(FaceTemplate.person_id == world.owner_id)
        ).all()
        consent = session.scalars(
            select(Consent).where(Consent.person_id == world.owner_id).order_by(Consent.id.desc())
        ).first()
        audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "enrol_face")).all()
    assert len(templates) == 2
    assert consent is not None and consent.taken_by == "guard-7"
    assert [(a.actor, a.source_address, a.target) for a in audits] == [
        ("guard-7", "10.0.0.9", f"person:{world.owner_id} templates:2")
    ]
    assert reloads == [1]


def test_refused_before_analysis_without_a_card_or_once_erased(
    enrolment: Enrolment, store: Store, world: World, faces_dir: Path, reloads: list[int]
) -> None:
    photos = _photos(faces_dir, OBAMA)
    with pytest.raises(EnrolRefused) as no_card:
        enrolment.enrol(Actor("guard"), world.tenant_id, photos, T0, words)  # no card, no PIN
    assert no_card.value.key == "needs_other_credential"
    with store.sessions.writing() as session:
        erase_person(
            session, store.cipher, world.owner_id, actor="dpo", at=T0 + timedelta(minutes=1)
        )
    with pytest.raises(EnrolRefused) as erased:
        enrolment.enrol(Actor("guard"), world.owner_id, photos, T0, words)
    assert (erased.value.key, erased.value.status) == ("not_found", 404)
    with store.sessions.reading() as session:
        assert session.scalars(select(FaceTemplate)).all() == []
    assert reloads == []
