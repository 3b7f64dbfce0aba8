"""AccessPolicy driven directly (no door thread, no models): every outcome it can give, each one
recorded as exactly one access event with the same reason, and `store_error` when the store
cannot record the attempt (nothing recorded, counted, never a grant)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.access.policy import AccessDecision, AccessPolicy
from gateway.access.requester import Requester
from gateway.store.base import Method, Role
from gateway.store.credentials import set_pin, set_two_factor
from gateway.store.erasure import erase_person
from gateway.store.people import add_person
from gateway.store.places import door_site
from gateway.store.schema_events import AccessEvent
from gateway.store.store import Store
from gateway.store.visitor_codes import issue_visitor_code
from tests.sqlite_store import sqlite_store_in
from tests.store.conftest import T0, World, build_world

PIN = "482913"
OWNER_CARD = (12, 34567)  # build_world gives the owner this card


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with sqlite_store_in(tmp_path, busy_timeout_ms=100) as opened:
        yield opened


@pytest.fixture
def world(store: Store) -> World:
    world = build_world(store)
    with store.sessions.writing() as session:
        set_pin(session, world.owner_id, PIN)
    return world


def _policy(store: Store, world: World, at: datetime = T0) -> AccessPolicy:
    return AccessPolicy(store, gateway_id="gw-1", door_id=world.door_id, now=lambda: at)


def _resident(store: Store, unit_id: int, **dates: datetime) -> int:
    with store.sessions.writing() as session:
        person = add_person(
            session,
            external_id=f"p-{unit_id}-{len(dates)}",
            display_name=None,
            role=Role.OWNER,
            unit_id=unit_id,
            valid_from=dates.get("valid_from", T0 - timedelta(days=1)),
            valid_until=dates.get("valid_until"),
        )
        set_pin(session, person.id, PIN)
        return person.id


def _code(store: Store, world: World, valid_until: datetime) -> str:
    with store.sessions.writing() as session:
        return issue_visitor_code(
            session,
            store.codes,
            site_id=door_site(session, world.door_id).id,
            unit_id=world.unit_id,
            door_ids=[world.door_id],
            issued_by="staff",
            issued_by_person_id=None,
            valid_from=T0 - timedelta(hours=1),
            valid_until=valid_until,
            max_uses=1,
        ).code


Case = Callable[[Store, World], AccessDecision]

CASES: dict[str, tuple[Case, Method, bool, str]] = {
    "face of a resident": (
        lambda s, w: _policy(s, w).face(str(w.owner_id), 0.97),
        Method.FACE,
        True,
        "ok",
    ),
    "face, identity not a person id": (
        lambda s, w: _policy(s, w).face("watch:7", 0.97),
        Method.FACE,
        False,
        "unknown_person",
    ),
    "face refused before the store (liveness)": (
        lambda s, w: _policy(s, w).face_refused(str(w.owner_id), "liveness_failed", 0.9),
        Method.FACE,
        False,
        "liveness_failed",
    ),
    "card of a resident": (
        lambda s, w: _policy(s, w).card(26, *OWNER_CARD),
        Method.CARD,
        True,
        "ok",
    ),
    "unknown card": (
        lambda s, w: _policy(s, w).card(26, 1, 1),
        Method.CARD,
        False,
        "unknown_card",
    ),
    "card while the reader is locked": (
        lambda s, w: _policy(s, w).card_refused(26, *OWNER_CARD),
        Method.CARD,
        False,
        "card_reader_locked",
    ),
    "resident PIN": (
        lambda s, w: _policy(s, w).resident_pin(str(w.owner_id), PIN),
        Method.PIN,
        True,
        "ok",
    ),
    "wrong PIN": (
        lambda s, w: _policy(s, w).resident_pin(str(w.owner_id), "000000"),
        Method.PIN,
        False,
        "wrong_pin",
    ),
    "PIN of no resident": (
        lambda s, w: _policy(s, w).resident_pin("99999", PIN),
        Method.PIN,
        False,
        "unknown_resident",
    ),
    "visitor code": (
        lambda s, w: _policy(s, w).code(_code(s, w, T0 + timedelta(hours=1))),
        Method.CODE,
        True,
        "ok",
    ),
    "expired visitor code": (
        lambda s, w: _policy(s, w, T0 + timedelta(hours=2)).code(
            _code(s, w, T0 + timedelta(hours=1))
        ),
        Method.CODE,
        False,
        "code_expired",
    ),
    "station remote open": (
        lambda s, w: _policy(s, w).remote("c", Requester.station(), T0 + timedelta(minutes=1)),
        Method.REMOTE,
        True,
        "station_open",
    ),
    "expired remote open": (
        lambda s, w: _policy(s, w).remote("c", Requester.station(), T0),
        Method.REMOTE,
        False,
        "expired",
    ),
    "remote open for no resident": (
        lambda s, w: _policy(s, w).remote(
            "c", Requester.resident("nobody"), T0 + timedelta(minutes=1)
        ),
        Method.REMOTE,
        False,
        "unknown_person",
    ),
    "exit button": (
        lambda s, w: _policy(s, w).local_release(Method.EXIT),
        Method.EXIT,
        True,
        "exit_button",
    ),
    "fire release": (
        lambda s, w: _policy(s, w).local_release(Method.FIRE),
        Method.FIRE,
        True,
        "fire_release",
    ),
    "tenant past the end date": (
        lambda s, w: _policy(s, w, T0 + timedelta(days=31)).resident_pin(
            str(_resident(s, w.unit_id, valid_until=T0 + timedelta(days=30))), PIN
        ),
        Method.PIN,
        False,
        "expired",
    ),
    "resident not yet valid": (
        lambda s, w: _policy(s, w).resident_pin(
            str(_resident(s, w.unit_id, valid_from=T0 + timedelta(days=1))), PIN
        ),
        Method.PIN,
        False,
        "not_yet_valid",
    ),
    "resident of another building": (
        lambda s, w: _policy(s, w).resident_pin(str(_resident(s, w.far_unit_id)), PIN),
        Method.PIN,
        False,
        "other_building",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_outcome_is_decided_and_recorded_once(store: Store, world: World, name: str) -> None:
    case, method, granted, reason = CASES[name]
    decision = case(store, world)
    assert (decision.method, decision.granted, decision.reason) == (method, granted, reason)
    with store.sessions.reading() as session:
        [event] = session.scalars(select(AccessEvent))
    assert (event.method, event.reason_code, str(event.id)) == (
        method,
        reason,
        decision.event_id,
    )


def test_an_erased_person_face_is_not_let_in(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        erase_person(session, store.cipher, world.owner_id, actor="admin", at=T0)
    decision = _policy(store, world).face(str(world.owner_id), 0.99)
    assert not decision.granted and decision.reason == "person_erased"


def test_two_factors_first_ask_then_grant(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        set_two_factor(session, world.owner_id, True, "staff")
    policy = _policy(store, world)
    first = policy.face(str(world.owner_id), 0.97)
    second = policy.keypad_digits(PIN)
    assert (first.granted, first.reason) == (False, "second_factor_required")
    assert (second.granted, second.reason) == (True, "two_factor_ok")


def test_a_local_release_of_another_method_is_refused(store: Store, world: World) -> None:
    with pytest.raises(ValueError):
        _policy(store, world).local_release(Method.CARD)


def test_store_error_when_the_attempt_cannot_be_recorded(store: Store, world: World) -> None:
    """Another writer holds the database: the card is refused as store_error, counted, and no
    event claims a decision was made."""
    policy = _policy(store, world)
    database = store.engine.url.database
    assert database is not None
    writer = sqlite3.connect(database, timeout=0.1)
    writer.execute("BEGIN IMMEDIATE")
    try:
        decision = policy.card(26, *OWNER_CARD)
    finally:
        writer.rollback()
        writer.close()
    assert (decision.granted, decision.reason, decision.event_id) == (False, "store_error", None)
    assert policy.counters == {"store_error": 1}
    with store.sessions.reading() as session:
        assert session.scalars(select(AccessEvent)).all() == []
