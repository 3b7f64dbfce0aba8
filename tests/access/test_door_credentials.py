"""Credentials at the door, attacked the way an intruder would: Wiegand frames into the simulated
reader (through the real edge decoder), a real store, the door thread's own loop.

* 600 sequential card numbers at 13/s: the reader locks after a burst, alerts, and the real card
  hidden among them is refused while locked (the event says why); the door never releases.
* 34- and 37-bit frames carrying a 26-bit card's facility and number are refused.
* Resident PINs at the keypad (`# number # PIN #`), the shared lockout, counted and alerted.
* Two factors: card alone and face alone do not open; card + PIN and face + PIN do, in time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.config.access import AccessConfig
from gateway.store.base import Method, Role, Verdict
from gateway.store.credentials import add_card, set_pin, set_two_factor
from gateway.store.people import add_person
from gateway.store.store import Store, open_store
from tests.access.door_rig import door_rig
from tests.sqlite_store import sqlite_store_in
from tests.store.conftest import T0, World, build_world

REAL_CARD = (12, 3456)
PIN = "482913"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with sqlite_store_in(tmp_path) as opened:
        yield opened


@pytest.fixture
def world(store: Store) -> World:
    return build_world(store)


def _resident(
    store: Store, world: World, external_id: str, *, card: bool = True, pin: bool = True
) -> int:
    with store.sessions.writing() as session:
        person = add_person(
            session,
            external_id=external_id,
            display_name=None,
            role=Role.OWNER,
            unit_id=world.unit_id,
            valid_from=T0 - timedelta(days=1),
        )
        if card:
            add_card(session, person.id, *REAL_CARD)
        if pin:
            set_pin(session, person.id, PIN)
        return person.id


def _two_factor(store: Store, person_id: int) -> None:
    with store.sessions.writing() as session:
        set_two_factor(session, person_id, True, "staff")


def test_sequential_card_sweep_locks_the_reader_and_the_real_card_is_refused(
    store: Store, world: World
) -> None:
    person_id = _resident(store, world, "r-sweep")
    with door_rig(store, world.door_id) as rig:
        for number in range(3000, 3600):  # 600 numbers, the real card 12/3456 among them
            started = rig.clock.seconds()
            rig.swipe(REAL_CARD[0], number)
            rig.clock.advance(started + 1 / 13 - rig.clock.seconds())  # 13 cards per second
        assert rig.release_count() == 0, "a card sweep opened the door"
        assert rig.alerts().count("card_brute_force") == 1
        refused = [e for e in rig.events() if e.reason_code == "card_reader_locked"]
        assert [(e.person_id, e.verdict) for e in refused] == [(person_id, Verdict.DENY)]
        lookups = [e for e in rig.events() if e.reason_code == "unknown_card"]
        assert len(lookups) == rig.config.card_reader.max_unknown_cards  # then locked
        assert rig.loop.counters["card.refused_locked"] == 600 - len(lookups)
        # the sweep stops; after the lockout the real card works again
        rig.clock.advance(rig.config.card_reader.lockout_s + 1)
        rig.loop.run_once(0.0)
        assert "card_reader_unlocked" in rig.alerts()
        rig.swipe(*REAL_CARD)
        assert rig.decisions[-1].granted and rig.decisions[-1].person_id == person_id
        assert rig.release_count() == 1
        rig.wait_out_release()


def test_a_real_card_during_the_lockout_is_refused_and_the_event_says_why(
    store: Store, world: World
) -> None:
    person_id = _resident(store, world, "r-locked")
    config = AccessConfig.model_validate({"card_reader": {"max_unknown_cards": 3}})
    with door_rig(store, world.door_id, config) as rig:
        for number in (1, 2, 3):
            rig.swipe(99, number)
        assert rig.alerts() == ["card_brute_force"]
        rig.swipe(*REAL_CARD)
        last = rig.decisions[-1]
        assert (last.granted, last.reason, last.person_id) == (
            False,
            "card_reader_locked",
            person_id,
        )
        assert rig.release_count() == 0


@pytest.mark.parametrize("format_bits", [34, 37])
def test_a_26_bit_cards_fields_in_a_longer_frame_are_refused(
    store: Store, world: World, format_bits: int
) -> None:
    _resident(store, world, "r-format")
    with door_rig(store, world.door_id) as rig:
        rig.swipe(*REAL_CARD, format_bits=format_bits)
        last = rig.decisions[-1]
        assert (last.method, last.granted, last.reason) == (
            Method.CARD,
            False,
            "card_format_mismatch",
        )
        assert rig.release_count() == 0
        rig.swipe(*REAL_CARD, format_bits=26)
        assert rig.decisions[-1].granted
        rig.wait_out_release()


def test_a_pin_only_resident_gets_in_with_number_and_pin(store: Store, world: World) -> None:
    person_id = _resident(store, world, "r-pin", card=False)
    with door_rig(store, world.door_id) as rig:
        rig.type(f"#{person_id}#{PIN}#")
        last = rig.decisions[-1]
        assert (last.method, last.granted, last.reason, last.person_id) == (
            Method.PIN,
            True,
            "ok",
            person_id,
        )
        assert rig.release_count() == 1
        assert PIN not in repr(rig.decisions) and PIN not in str(rig.loop.counters)
        rig.wait_out_release()


def test_wrong_pins_lock_the_keypad_and_alert(store: Store, world: World) -> None:
    person_id = _resident(store, world, "r-guess", card=False)
    with door_rig(store, world.door_id) as rig:
        for guess in range(5):
            rig.type(f"#{person_id}#00000{guess}#")
        reasons = [d.reason for d in rig.decisions]
        assert reasons == ["wrong_pin"] * 5
        assert rig.alerts() == ["pin_brute_force"]
        rig.type(f"#{person_id}#{PIN}#")  # the right PIN while locked: keys dropped
        assert len(rig.decisions) == 5 and rig.release_count() == 0
        assert rig.loop.keypad.counters["rejected.locked"] >= len(PIN)
        rig.clock.advance(rig.config.keypad.lockout_s)
        rig.type(f"#{person_id}#{PIN}#")
        assert rig.decisions[-1].granted
        rig.wait_out_release()


def test_unknown_resident_numbers_count_toward_the_lockout(store: Store, world: World) -> None:
    with door_rig(store, world.door_id) as rig:
        for number in range(900, 905):
            rig.type(f"#{number}#{PIN}#")
        assert {d.reason for d in rig.decisions} == {"unknown_resident"}
        assert all(d.person_id is None for d in rig.decisions)
        assert rig.alerts() == ["pin_brute_force"]


def test_card_then_pin_for_a_two_factor_person(store: Store, world: World) -> None:
    person_id = _resident(store, world, "r-2fa")
    _two_factor(store, person_id)
    with door_rig(store, world.door_id) as rig:
        rig.swipe(*REAL_CARD)
        first = rig.decisions[-1]
        assert (first.method, first.granted, first.reason) == (
            Method.CARD,
            False,
            "second_factor_required",
        )
        assert rig.release_count() == 0
        rig.type(f"{PIN}#")  # the bare PIN completes the waiting card
        second = rig.decisions[-1]
        assert (second.method, second.granted, second.reason, second.person_id) == (
            Method.PIN,
            True,
            "two_factor_ok",
            person_id,
        )
        assert rig.release_count() == 1
        rig.wait_out_release()
        rig.swipe(*REAL_CARD)  # the wait was used up: the card alone is refused again
        assert rig.decisions[-1].reason == "second_factor_required"
        assert rig.release_count() == 1


def test_the_second_factor_must_come_in_time_and_be_of_another_kind(
    store: Store, world: World
) -> None:
    person_id = _resident(store, world, "r-late")
    _two_factor(store, person_id)
    with door_rig(store, world.door_id) as rig:
        rig.swipe(*REAL_CARD)
        rig.swipe(*REAL_CARD)  # the same card twice is not two factors
        assert [d.reason for d in rig.decisions] == ["second_factor_required"] * 2
        rig.clock.advance(rig.config.second_factor.window_s + 1)
        rig.type(f"{PIN}#")  # too late: an ordinary (unknown) visitor code now
        assert (rig.decisions[-1].method, rig.decisions[-1].granted) == (Method.CODE, False)
        rig.type(f"#{person_id}#{PIN}#")  # a PIN alone is a first factor too
        assert rig.decisions[-1].reason == "second_factor_required"
        assert rig.release_count() == 0


def test_face_then_pin_for_a_two_factor_person(store: Store, world: World) -> None:
    person_id = _resident(store, world, "r-face")
    _two_factor(store, person_id)
    with door_rig(store, world.door_id) as rig:
        face = rig.policy.face(str(person_id), 0.97)  # what the vision loop hands over
        assert (face.granted, face.reason) == (False, "second_factor_required")
        rig.type("000000#")  # a wrong PIN for the waiting person
        assert (rig.decisions[-1].reason, rig.decisions[-1].person_id) == (
            "second_factor_failed",
            person_id,
        )
        rig.type(f"{PIN}#")
        assert (rig.decisions[-1].reason, rig.decisions[-1].granted) == ("two_factor_ok", True)
        assert rig.release_count() == 1
        rig.wait_out_release()


def test_pin_then_face_for_a_two_factor_person(store: Store, world: World) -> None:
    person_id = _resident(store, world, "r-pin-face")
    _two_factor(store, person_id)
    with door_rig(store, world.door_id) as rig:
        rig.type(f"#{person_id}#{PIN}#")
        assert rig.decisions[-1].reason == "second_factor_required"
        face = rig.policy.face(str(person_id), 0.97)
        assert (face.granted, face.reason, face.person_id) == (True, "two_factor_ok", person_id)
        assert rig.policy.face(str(person_id), 0.97).reason == "second_factor_required"


def test_face_then_card_for_a_two_factor_person(store: Store, world: World) -> None:
    person_id = _resident(store, world, "r-face-card", pin=False)
    _two_factor(store, person_id)
    with door_rig(store, world.door_id) as rig:
        assert rig.policy.face(str(person_id), 0.97).reason == "second_factor_required"
        rig.swipe(*REAL_CARD)
        last = rig.decisions[-1]
        assert (last.method, last.granted, last.reason) == (Method.CARD, True, "two_factor_ok")
        assert rig.release_count() == 1
        rig.wait_out_release()


def test_a_store_error_neither_counts_as_a_guess_nor_resets_the_count(tmp_path: Path) -> None:
    """A PIN attempt the store could not judge (another writer holds the database) is not a
    wrong guess, and must not wipe the wrong guesses before it either."""
    import sqlite3

    from gateway.config.store import StoreConfig
    from gateway.store.crypto import generate_key_file

    key = tmp_path / "template.key"
    generate_key_file(key)
    path = tmp_path / "locked.db"
    config = StoreConfig(
        url=f"sqlite:///{path}", key_file=key, backup_dir=tmp_path / "b", busy_timeout_ms=100
    )
    store = open_store(config)
    try:
        world = build_world(store)
        person_id = _resident(store, world, "r-busy", card=False)
        with door_rig(store, world.door_id) as rig:
            for guess in range(4):
                rig.type(f"#{person_id}#00000{guess}#")
            writer = sqlite3.connect(path, timeout=0.1)
            writer.execute("BEGIN IMMEDIATE")  # someone else holds the write lock
            rig.type(f"#{person_id}#000009#")
            writer.rollback()
            writer.close()
            assert rig.decisions[-1].reason == "store_error"
            assert rig.alerts() == []
            rig.type(f"#{person_id}#000008#")  # the fifth wrong guess in a row
            assert rig.alerts() == ["pin_brute_force"]
    finally:
        store.close()
