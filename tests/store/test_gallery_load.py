"""Loading the gallery: valid people only, running model only, tampered rows never loaded."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import select, update

from gateway.gallery.matrix import Gallery
from gateway.store.credentials import record_consent, set_pin, store_face_template
from gateway.store.gallery_load import fill_gallery, load_gallery_rows
from gateway.store.people import get_person
from gateway.store.schema_credentials import FaceTemplate
from gateway.store.store import Store
from tests.store.conftest import T0, World

MODEL = "sface-2021dec"


def unit_vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


def enrol_everyone(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        for person_id in (world.tenant_id, world.staff_id):
            set_pin(session, person_id, "123456")
            record_consent(
                session, person_id, text_version="2026-01", taken_by="guard", taken_at=T0
            )
        store_face_template(session, store.cipher, world.owner_id, unit_vector(1), MODEL)
        store_face_template(session, store.cipher, world.owner_id, unit_vector(2), MODEL)
        store_face_template(session, store.cipher, world.tenant_id, unit_vector(3), MODEL)
        store_face_template(session, store.cipher, world.staff_id, unit_vector(4), "arcface-r100")
        store_face_template(session, store.cipher, world.staff_id, unit_vector(5), "arcface-r100")


def test_rows_of_valid_people_and_the_running_model_only(store: Store, world: World) -> None:
    enrol_everyone(store, world)
    with store.sessions.reading() as session:
        load = load_gallery_rows(session, store.cipher, MODEL, 128, T0)
    assert [(row.person_id, row.model_id) for row in load.rows] == [
        (world.owner_id, MODEL),
        (world.owner_id, MODEL),
        (world.tenant_id, MODEL),
    ]
    np.testing.assert_allclose(load.rows[0].vector, unit_vector(1), rtol=1e-6)
    assert load.refused_by_model == {"arcface-r100": 2} and load.refused_other_model == 2
    gallery = Gallery(MODEL, 128)
    assert fill_gallery(gallery, load) == 3
    match = gallery.search(unit_vector(3))
    assert match is not None and match.identity == str(world.tenant_id)


def test_expired_and_inactive_people_are_left_out(store: Store, world: World) -> None:
    enrol_everyone(store, world)
    with store.sessions.writing() as session:
        get_person(session, world.owner_id).active = False
    with store.sessions.reading() as session:
        after_tenancy = T0 + timedelta(days=31)
        assert load_gallery_rows(session, store.cipher, MODEL, 128, after_tenancy).rows == []
        now = load_gallery_rows(session, store.cipher, MODEL, 128, T0)
    assert [row.person_id for row in now.rows] == [world.tenant_id]


def test_a_ciphertext_moved_to_another_person_is_refused(store: Store, world: World) -> None:
    enrol_everyone(store, world)
    with store.sessions.writing() as session:
        tenant_row = session.scalars(
            select(FaceTemplate).where(FaceTemplate.person_id == world.tenant_id)
        ).one()
        owner_first = session.scalars(
            select(FaceTemplate)
            .where(FaceTemplate.person_id == world.owner_id)
            .order_by(FaceTemplate.id)
        ).first()
        assert owner_first is not None
        # an attacker copies the owner's template into the tenant's row
        session.execute(
            update(FaceTemplate)
            .where(FaceTemplate.id == tenant_row.id)
            .values(nonce=owner_first.nonce, ciphertext=owner_first.ciphertext)
        )
        swapped_id = tenant_row.id
    with store.sessions.reading() as session:
        load = load_gallery_rows(session, store.cipher, MODEL, 128, T0)
    assert load.unreadable_template_ids == [swapped_id]
    assert [row.person_id for row in load.rows] == [world.owner_id, world.owner_id]


def test_wrong_dimension_is_counted_not_loaded(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        store_face_template(session, store.cipher, world.owner_id, unit_vector(1)[:64], MODEL)
    with store.sessions.reading() as session:
        load = load_gallery_rows(session, store.cipher, MODEL, 128, T0)
    assert load.rows == [] and load.wrong_dimension == 1
