"""Erasing a person through the one command: the kept photos go (the API path used to leave
them), the galleries are reloaded, one audit row, and a second erasure or a wrong confirmation
is refused with nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.application.actor import Actor
from gateway.application.erasure import ErasureRefused, PersonErasure
from gateway.store.errors import NotFound
from gateway.store.schema_events import AuditEntry
from gateway.store.schema_people import Person
from gateway.store.store import Store
from tests.store.conftest import T0, World

ACTOR = Actor("admin", "192.0.2.9")


def test_erase_removes_photos_reloads_and_audits_once(
    store: Store, world: World, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    kept = photos / str(world.owner_id)
    kept.mkdir(parents=True)
    (kept / "enrol-1.jpg").write_bytes(b"jpeg")
    reloads: list[int] = []
    erasure = PersonErasure(store, lambda: T0, photos, lambda: reloads.append(1))
    with pytest.raises(ErasureRefused) as wrong:
        erasure.erase(world.owner_id, ACTOR, confirm_external_id="someone-else")
    assert wrong.value.code == "confirmation_mismatch" and kept.exists() and reloads == []
    erased = erasure.erase(world.owner_id, ACTOR, confirm_external_id=" p-owner ")
    assert erased.pseudonym and not kept.exists() and reloads == [1]
    with store.sessions.reading() as session:
        person = session.get(Person, world.owner_id)
        audits = list(session.scalars(select(AuditEntry)))
    assert person is not None and person.erased_at is not None
    assert person.external_id != "p-owner"
    assert [(a.actor, a.source_address) for a in audits] == [("admin", "192.0.2.9")]
    with pytest.raises(ErasureRefused) as again:
        erasure.erase(world.owner_id, ACTOR)
    assert again.value.code == "already_erased" and reloads == [1]
    with pytest.raises(NotFound):
        erasure.erase(99999, ACTOR)
