"""Credential commands: an erased person takes nothing back on any of them, each change writes
exactly one audit row, and the last card/PIN beside face templates stays."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sqlalchemy import func, select

from gateway.application.actor import Actor
from gateway.application.credentials import Credentials, DuplicateCard, LastCredential
from gateway.store.credentials import record_consent, store_face_template
from gateway.store.erasure import erase_person
from gateway.store.errors import NotFound
from gateway.store.schema_credentials import Card, Pin
from gateway.store.schema_events import AuditEntry
from gateway.store.store import Store
from tests.store.conftest import T0, World

ACTOR = Actor("warden", "192.0.2.7")


def _audit_actions(store: Store) -> list[str]:
    with store.sessions.reading() as session:
        return [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def _credential_rows(store: Store, person_id: int) -> int:
    with store.sessions.reading() as session:
        cards = session.scalar(select(func.count()).where(Card.person_id == person_id))
        pins = session.scalar(select(func.count()).where(Pin.person_id == person_id))
    return int(cards or 0) + int(pins or 0)


def test_each_change_writes_one_audit_row(store: Store, world: World) -> None:
    commands = Credentials(store, lambda: T0)
    card_id = commands.add_card(world.owner_id, 12, 3456, 26, ACTOR)
    commands.set_pin(world.owner_id, "482913", ACTOR)
    assert commands.set_two_factor(world.owner_id, True, ACTOR)
    assert not commands.set_two_factor(world.owner_id, True, ACTOR)  # no change, no row
    commands.remove_card(world.owner_id, card_id, ACTOR)
    commands.remove_pin(world.owner_id, ACTOR)
    assert _audit_actions(store) == [
        "add_card",
        "set_pin",
        "set_two_factor",
        "remove_card",
        "remove_pin",
    ]
    with pytest.raises(DuplicateCard):
        commands.add_card(world.tenant_id, 1, 1, 26, ACTOR)
        commands.add_card(world.owner_id, 1, 1, 26, ACTOR)
    assert _audit_actions(store)[-1] == "add_card"  # the duplicate left no row


COMMANDS: dict[str, Callable[[Credentials, int], object]] = {
    "add_card": lambda c, p: c.add_card(p, 7, 99, None, ACTOR),
    "set_pin": lambda c, p: c.set_pin(p, "135790", ACTOR),
    "set_two_factor": lambda c, p: c.set_two_factor(p, True, ACTOR),
    "remove_pin": lambda c, p: c.remove_pin(p, ACTOR),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_an_erased_person_is_not_found_and_nothing_is_written(
    store: Store, world: World, name: str
) -> None:
    with store.sessions.writing() as session:
        erase_person(session, store.cipher, world.tenant_id, actor="admin", at=T0)
    before = _audit_actions(store)
    with pytest.raises(NotFound):
        COMMANDS[name](Credentials(store, lambda: T0), world.tenant_id)
    assert _audit_actions(store) == before
    assert _credential_rows(store, world.tenant_id) == 0


def test_the_last_card_beside_face_templates_stays(store: Store, world: World) -> None:
    person = world.staff_id  # no card, no PIN yet
    commands = Credentials(store, lambda: T0)
    card_id = commands.add_card(person, 12, 3456, 26, ACTOR)
    with store.sessions.writing() as session:
        record_consent(session, person, text_version="v1", taken_by="staff", taken_at=T0)
        vector = np.ones(128, dtype=np.float32) / np.sqrt(128)
        store_face_template(session, store.cipher, person, vector, "model-a")
    with pytest.raises(LastCredential):
        commands.remove_card(person, card_id, ACTOR)
    assert _credential_rows(store, person) == 1
    assert _audit_actions(store) == ["add_card"]
