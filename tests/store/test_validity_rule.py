"""The validity rule has two forms, Python (per decision) and SQL (gallery loading): they agree.

Also: station deltas update people in place, and an erased person cannot be revived by a delta.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.store.base import Role
from gateway.store.crypto import pseudonym_for
from gateway.store.people import upsert_person, valid_at_clause, validity_reason
from gateway.store.schema_people import Person
from gateway.store.store import Store
from tests.store.conftest import T0, World

hours = st.integers(min_value=-200, max_value=200)
people = st.lists(
    st.tuples(
        st.sampled_from(list(Role)),
        hours,  # valid_from offset
        st.one_of(st.none(), st.integers(min_value=1, max_value=300)),  # duration
        st.booleans(),  # active
        st.booleans(),  # erased
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=people, probe=hours)
def test_sql_and_python_validity_agree(sqlite_store: Store, rows: list, probe: int) -> None:
    at = T0 + timedelta(hours=probe)
    with sqlite_store.sessions.writing() as session:
        session.query(Person).delete()
        for i, (role, start, duration, active, erased) in enumerate(rows):
            valid_from = T0 + timedelta(hours=start)
            person = Person(
                external_id=f"x-{i}",
                display_name=None,
                role=role,
                unit_id=None,
                valid_from=valid_from,
                valid_until=None if duration is None else valid_from + timedelta(hours=duration),
                active=active,
                erased_at=T0 if erased else None,
                pseudonym=f"anon-{i}" if erased else None,
            )
            session.add(person)
        session.flush()
        in_sql = set(session.scalars(select(Person.id).where(valid_at_clause(at))))
        in_python = {
            p.id for p in session.scalars(select(Person)) if validity_reason(p, at) is None
        }
        session.rollback()
    assert in_sql == in_python


def test_station_delta_updates_in_place(store: Store, world: World) -> None:
    with store.sessions.writing() as session:
        updated = upsert_person(
            session,
            external_id="p-tenant",
            display_name="李娜",
            role=Role.TENANT,
            unit_id=world.other_unit_id,
            valid_from=T0 - timedelta(days=30),
            valid_until=T0 + timedelta(days=365),
            active=True,
        )
        assert updated.id == world.tenant_id
        assert validity_reason(updated, T0 + timedelta(days=100)) is None
        created = upsert_person(
            session,
            external_id="p-new",
            display_name=None,
            role=Role.FAMILY,
            unit_id=world.unit_id,
            valid_from=T0,
            valid_until=None,
            active=True,
        )
        assert created.id not in (world.owner_id, world.tenant_id, world.staff_id)
        erased = session.get(Person, world.staff_id)
        assert erased is not None
        erased.erased_at = T0
        erased.pseudonym = pseudonym_for(store.cipher, erased.id)
        session.flush()
        with pytest.raises(ValueError, match="erased"):
            upsert_person(
                session,
                external_id="p-staff",
                display_name="王强",
                role=Role.STAFF,
                unit_id=None,
                valid_from=T0,
                valid_until=None,
                active=True,
            )
