"""Validity, schedules, consent, the face-not-alone rule, cards and PINs (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.store.base import Role
from gateway.store.credentials import (
    active_face_consent,
    add_card,
    check_pin,
    find_card_holder,
    record_consent,
    set_pin,
    store_face_template,
    withdraw_consent,
)
from gateway.store.errors import CredentialPolicyError
from gateway.store.people import add_person, check_access, get_person, set_weekly_windows
from gateway.store.schema_credentials import FaceTemplate, Pin
from gateway.store.store import Store
from tests.store.conftest import T0, World

MODEL = "sface-2021dec"


def vector(seed: int, dimension: int = 128) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)


def test_owner_tenant_staff_validity_and_buildings(store: Store, world: World) -> None:
    with store.sessions.reading() as session:
        assert check_access(session, world.owner_id, world.door_id, T0).reason == "ok"
        assert check_access(session, world.owner_id, world.other_door_id, T0).reason == (
            "other_building"
        )
        assert check_access(session, world.staff_id, world.other_door_id, T0).allowed
        assert check_access(session, world.tenant_id, world.door_id, T0).allowed
        later = T0 + timedelta(days=30)  # the tenancy ends exactly then
        assert check_access(session, world.tenant_id, world.door_id, later).reason == "expired"
        early = T0 - timedelta(days=31)
        assert check_access(session, world.owner_id, world.door_id, early).reason == (
            "not_yet_valid"
        )
        assert check_access(session, 999_999, world.door_id, T0).reason == "unknown_person"


def test_a_tenant_without_an_end_date_is_never_valid(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        open_ended = add_person(
            session,
            external_id="p-open-tenant",
            display_name="赵敏",
            role=Role.TENANT,
            unit_id=world.unit_id,
            valid_from=T0 - timedelta(days=1),
        )
        check = check_access(session, open_ended.id, world.door_id, T0)
    assert check.reason == "tenant_without_end" and not check.allowed


def test_inactive_person_is_refused(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        get_person(session, world.owner_id).active = False
    with store.sessions.reading() as session:
        assert check_access(session, world.owner_id, world.door_id, T0).reason == (
            "person_inactive"
        )


def test_weekly_schedule_in_site_local_time(store: Store, world: World) -> None:
    # T0 is Monday 10:00 in Shanghai (02:00 UTC): a Monday 08:00-12:00 window allows it.
    with store.sessions.writing() as session:
        set_weekly_windows(session, world.staff_id, [(0, 8 * 60, 12 * 60), (2, 0, 1440)])
    with store.sessions.reading() as session:
        assert check_access(session, world.staff_id, world.door_id, T0).allowed
        two_hours_later = T0 + timedelta(hours=2)  # Monday 12:00 local: window ended
        assert check_access(session, world.staff_id, world.door_id, two_hours_later).reason == (
            "outside_schedule"
        )
        tuesday = T0 + timedelta(days=1)
        assert not check_access(session, world.staff_id, world.door_id, tuesday).allowed
        wednesday_night = T0 + timedelta(days=2, hours=13)  # Wednesday 23:00 local
        assert check_access(session, world.staff_id, world.door_id, wednesday_night).allowed
    with store.sessions.writing() as session:
        set_weekly_windows(session, world.staff_id, [])
        assert check_access(session, world.staff_id, world.door_id, T0 + timedelta(days=1)).allowed
    with pytest.raises(ValueError, match="bad weekly window"), store.sessions.writing() as session:
        set_weekly_windows(session, world.staff_id, [(7, 0, 60)])


def test_face_template_needs_consent_and_another_credential(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        # staff: no consent, no card or PIN
        with pytest.raises(CredentialPolicyError, match="consent"):
            store_face_template(session, store.cipher, world.staff_id, vector(1), MODEL)
        record_consent(
            session, world.staff_id, text_version="2026-01", taken_by="guard-1", taken_at=T0
        )
        with pytest.raises(CredentialPolicyError, match="face is never the only credential"):
            store_face_template(session, store.cipher, world.staff_id, vector(1), MODEL)
        set_pin(session, world.staff_id, "482913")
        stored = store_face_template(session, store.cipher, world.staff_id, vector(1), MODEL)
        assert stored.dimension == 128 and stored.key_id == "k1" and len(stored.nonce) == 12
        assert vector(1).tobytes() not in stored.ciphertext
        # the owner has a card and a consent from the fixture
        store_face_template(session, store.cipher, world.owner_id, vector(2), MODEL)
    with store.sessions.reading() as session:
        counts = session.scalars(select(FaceTemplate.person_id)).all()
    assert sorted(counts) == sorted([world.staff_id, world.owner_id])


def test_withdrawing_consent_deletes_templates(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        store_face_template(session, store.cipher, world.owner_id, vector(3), MODEL)
        store_face_template(session, store.cipher, world.owner_id, vector(4), MODEL)
    with store.sessions.writing() as session:
        assert withdraw_consent(session, world.owner_id, T0) == 2
    with store.sessions.writing() as session:
        assert session.scalars(select(FaceTemplate)).all() == []
        assert active_face_consent(session, world.owner_id) is None
        with pytest.raises(CredentialPolicyError, match="consent"):
            store_face_template(session, store.cipher, world.owner_id, vector(5), MODEL)


def test_card_numbers_are_unique_and_found(store: Store, world: World) -> None:
    with store.sessions.reading() as session:
        assert find_card_holder(session, 12, 34567) == world.owner_id
        assert find_card_holder(session, 12, 34568) is None
        assert find_card_holder(session, 13, 34567) is None
    with pytest.raises(IntegrityError), store.sessions.writing() as session:
        add_card(session, world.staff_id, 12, 34567)


def test_pins_are_argon2id_hashes(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        set_pin(session, world.staff_id, "482913")
    with store.sessions.reading() as session:
        stored = session.get(Pin, world.staff_id)
        assert stored is not None
        assert stored.pin_hash.startswith("$argon2id$") and "482913" not in stored.pin_hash
        assert check_pin(session, world.staff_id, "482913")
        assert not check_pin(session, world.staff_id, "482914")
    with pytest.raises(ValueError, match="4 to 12 digits"), store.sessions.writing() as session:
        set_pin(session, world.staff_id, "12a4")
