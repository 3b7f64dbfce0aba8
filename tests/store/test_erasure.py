"""Erasure: credentials gone, history pseudonymised, and (SQLite) no bytes left in the files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from gateway.store.base import Method, Verdict
from gateway.store.credentials import set_pin, store_face_template
from gateway.store.crypto import pseudonym_for
from gateway.store.erasure import erase_and_purge
from gateway.store.events import record_access_event
from gateway.store.people import check_access, get_person
from gateway.store.schema_credentials import Card, FaceTemplate, Pin, VisitorCode
from gateway.store.schema_events import AccessEvent, OutboxMessage
from gateway.store.schema_people import Consent
from gateway.store.store import Store
from gateway.store.visitor_codes import issue_visitor_code
from tests.store.conftest import T0, World, build_world

MODEL = "sface-2021dec"


def populate_owner(store: Store, world: World) -> list[bytes]:
    """Templates, PIN, a visitor code and three events for the owner; returns the ciphertexts."""
    rng = np.random.default_rng(7)
    with store.sessions.writing() as session:
        set_pin(session, world.owner_id, "918273")
        templates = [
            store_face_template(
                session, store.cipher, world.owner_id, rng.standard_normal(512), MODEL
            )
            for _ in range(2)
        ]
        issue_visitor_code(
            session,
            store.codes,
            site_id=world.site_id,
            unit_id=world.unit_id,
            door_ids=[world.door_id],
            issued_by="resident-app",
            issued_by_person_id=world.owner_id,
            valid_from=T0,
            valid_until=T0 + timedelta(days=1),
            max_uses=1,
        )
        for minute in range(3):
            record_access_event(
                session,
                gateway_id="gw-1",
                door_id=world.door_id,
                method=Method.FACE,
                verdict=Verdict.GRANT,
                reason_code="ok",
                occurred_at=T0 + timedelta(minutes=minute),
                person_id=world.owner_id,
                score=0.8,
            )
        return [t.ciphertext for t in templates]


def file_bytes(store: Store) -> bytes:
    database = Path(str(store.engine.url.database))
    parts = [database, database.with_name(database.name + "-wal")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def test_erasure_removes_credentials_and_pseudonymises_history(store: Store, world: World) -> None:
    populate_owner(store, world)
    report, wal_cleared = erase_and_purge(
        store.sessions, store.cipher, world.owner_id, actor="admin", at=T0 + timedelta(hours=1)
    )
    assert wal_cleared
    assert (report.templates, report.cards, report.pins, report.visitor_codes) == (2, 1, 1, 1)
    assert (report.consents_unlinked, report.events_pseudonymised) == (1, 3)
    assert report.outbox_pseudonymised == 3
    assert report.pseudonym == pseudonym_for(store.cipher, world.owner_id)
    with store.sessions.reading() as session:
        for table in (FaceTemplate, Card, Pin, VisitorCode):
            assert session.scalar(select(func.count()).select_from(table)) == 0
        events = session.scalars(select(AccessEvent)).all()
        assert {(e.person_id, e.person_pseudonym) for e in events} == {(None, report.pseudonym)}
        payload_people = {m.payload["person"] for m in session.scalars(select(OutboxMessage))}
        assert payload_people == {report.pseudonym}
        consent = session.scalars(select(Consent)).one()
        assert consent.person_id is None and consent.person_pseudonym == report.pseudonym
        person = get_person(session, world.owner_id)
        assert person.display_name is None and person.unit_id is None
        assert person.external_id == report.pseudonym and person.erased_at is not None
        assert check_access(session, world.owner_id, world.door_id, T0).reason == "person_erased"


def test_sqlite_file_holds_no_trace_of_erased_templates(sqlite_store: Store) -> None:
    store = sqlite_store
    world = build_world(store)
    ciphertexts = populate_owner(store, world)
    before = file_bytes(store)
    assert all(c in before for c in ciphertexts)  # the scan does find them while they exist
    assert "张伟".encode() in before
    erase_and_purge(store.sessions, store.cipher, world.owner_id, actor="admin", at=T0)
    store.close()  # no pooled connection keeps pages in memory; scan what is on disk
    after = file_bytes(store)
    for ciphertext in ciphertexts:
        assert ciphertext not in after
        assert ciphertext[:64] not in after and ciphertext[-64:] not in after
    assert "张伟".encode() not in after
    assert b"p-owner" not in after
