"""Cards bound to their Wiegand format, PIN hashes for the door, two-factor settings, erased people
refusing credentials, the PIN access method, and the 0003 migration of existing cards (SQLite and
PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from gateway.store.base import Method, Verdict
from gateway.store.credentials import (
    CardFormatError,
    PersonErased,
    add_card,
    find_card,
    pin_hash_of,
    set_pin,
    set_two_factor,
)
from gateway.store.engine import database_url
from gateway.store.erasure import erase_person
from gateway.store.events import record_access_event
from gateway.store.migrate import alembic_config
from gateway.store.schema_events import AccessEvent
from gateway.store.schema_people import Person
from gateway.store.secrets_hash import verify_pin
from gateway.store.store import Store, open_store
from tests.store.conftest import T0, World, store_config


def test_a_card_is_found_only_in_its_own_format(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        add_card(session, world.tenant_id, 4321, 60000, 34)
        add_card(session, world.staff_id, 7, 300000)  # only 37 bits hold this number
    with store.sessions.reading() as session:
        owner = find_card(session, 26, 12, 34567)  # the world's owner card, inferred 26-bit
        assert (owner.holder, owner.reason) == (world.owner_id, "ok")
        for bits in (34, 37):
            assert find_card(session, bits, 12, 34567).reason == "card_format_mismatch"
        assert find_card(session, 34, 4321, 60000).holder == world.tenant_id
        assert find_card(session, 37, 4321, 60000).holder is None
        assert find_card(session, 37, 7, 300000).holder == world.staff_id
        assert find_card(session, 26, 1, 1).reason == "unknown_card"


@pytest.mark.parametrize(
    ("facility", "number", "bits"),
    [(256, 1, 26), (1, 65536, 26), (65536, 1, 34), (1, 2**19, 37), (1, 1, 40)],
)
def test_a_card_that_does_not_fit_its_format_is_refused(
    store: Store, world: World, facility: int, number: int, bits: int
) -> None:
    with pytest.raises(CardFormatError), store.sessions.writing() as session:
        add_card(session, world.tenant_id, facility, number, bits)


def test_the_same_fields_cannot_be_registered_twice(store: Store, world: World) -> None:
    with pytest.raises(IntegrityError), store.sessions.writing() as session:
        add_card(session, world.tenant_id, 12, 34567, 34)


def test_an_erased_person_takes_no_credential(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        erase_person(session, store.cipher, world.tenant_id, actor="admin", at=T0)
    for change in (
        lambda s: add_card(s, world.tenant_id, 1, 2),
        lambda s: set_pin(s, world.tenant_id, "482916"),
        lambda s: set_two_factor(s, world.tenant_id, True, "staff"),
    ):
        with pytest.raises(PersonErased), store.sessions.writing() as session:
            change(session)
    with store.sessions.reading() as session:
        assert pin_hash_of(session, world.tenant_id) is None


def test_two_factor_setting_and_pin_hash(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        assert set_two_factor(session, world.owner_id, True, "confusable")
        assert not set_two_factor(session, world.owner_id, True, "staff")  # unchanged
        set_pin(session, world.owner_id, "482916")
    with store.sessions.reading() as session:
        person = session.get(Person, world.owner_id)
        assert person is not None
        assert (person.two_factor, person.two_factor_source) == (True, "confusable")
        stored = pin_hash_of(session, world.owner_id)
    assert stored is not None and "482916" not in stored and verify_pin(stored, "482916")
    with store.sessions.writing() as session:
        assert set_two_factor(session, world.owner_id, False, "staff")
    with store.sessions.reading() as session:
        person = session.get(Person, world.owner_id)
        assert person is not None and (person.two_factor, person.two_factor_source) == (
            False,
            None,
        )


def test_pin_is_an_access_method_and_bogus_methods_are_refused(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        record_access_event(
            session,
            gateway_id="gw-1",
            door_id=world.door_id,
            method=Method.PIN,
            verdict=Verdict.GRANT,
            reason_code="ok",
            occurred_at=T0,
            person_id=world.owner_id,
        )
    with store.sessions.reading() as session:
        [event] = session.query(AccessEvent).all()
        assert event.method is Method.PIN
    with pytest.raises(IntegrityError), store.sessions.writing() as session:
        session.execute(text("UPDATE access_event SET method = 'telepathy'"))


def test_migration_0003_binds_existing_cards_to_the_format_they_fit(
    empty_backend_url: str, key_file: Path, tmp_path: Path
) -> None:
    from gateway.store.engine import make_engine

    engine = make_engine(store_config(empty_backend_url, Path("unused"), tmp_path))
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.commit()
    engine.dispose()
    raw = create_engine(database_url(empty_backend_url))
    with raw.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO site (id, code, name, province, city, district, street, community,"
                " timezone) VALUES (1, 's', 'n', 'p', 'c', 'd', 's', 'co', 'Asia/Shanghai')"
            )
        )
        connection.execute(text("INSERT INTO building (id, site_id, number) VALUES (1, 1, '3')"))
        connection.execute(
            text(
                "INSERT INTO door (id, code, building_id, gateway_id, name) "
                "VALUES (1, 'main', 1, 'gw', 'Main')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO person (id, external_id, role, valid_from, active, created_at, "
                "updated_at) VALUES (1, 'staff-1', 'staff', :t, true, :t, :t)"
            ),
            {"t": T0.replace(tzinfo=None)},
        )
        for card_id, (facility, number) in enumerate(
            [(12, 3456), (4321, 60000), (7, 300000)], start=1
        ):
            connection.execute(
                text(
                    "INSERT INTO card (id, person_id, facility, number, created_at) "
                    "VALUES (:i, 1, :f, :n, :t)"
                ),
                {"i": card_id, "f": facility, "n": number, "t": T0.replace(tzinfo=None)},
            )
        connection.execute(
            text(
                "INSERT INTO access_event (id, occurred_at, door_id, method, person_id, verdict, "
                "reason_code) VALUES ('0190b5a4-0000-7000-8000-000000000001', :t, 1, 'card', 1, "
                "'grant', 'ok')"
            ),
            {"t": T0.replace(tzinfo=None)},
        )
    raw.dispose()
    opened = open_store(store_config(empty_backend_url, key_file, tmp_path))
    try:
        with opened.sessions.reading() as session:
            formats = session.execute(
                text("SELECT facility, number, format_bits FROM card ORDER BY id")
            ).all()
            assert [tuple(row) for row in formats] == [
                (12, 3456, 26),
                (4321, 60000, 34),
                (7, 300000, 37),
            ]
            assert session.scalar(text("SELECT count(*) FROM access_event")) == 1
            person = session.get(Person, 1)
            assert person is not None and person.two_factor is False
    finally:
        opened.close()
