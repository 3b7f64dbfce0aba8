"""Store fixtures: a fresh store on SQLite (always) and on PostgreSQL (a database per test).

PostgreSQL tests create a uniquely named database on 127.0.0.1:5432 and drop it afterwards; when
the server is not reachable they are skipped with a loud POSTGRESQL NOT REACHABLE message.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from gateway.config.store import StoreConfig
from gateway.store.base import Role
from gateway.store.credentials import add_card, record_consent
from gateway.store.crypto import generate_key_file
from gateway.store.people import add_person
from gateway.store.places import add_building, add_door, add_site, add_unit
from gateway.store.store import Store, open_store

REPO_ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get(
    "MENWEI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Asia/Shanghai

_pg_problem: list[str] = []


def _pg_admin_engine() -> Engine:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def postgres_reachable() -> str | None:
    """None when reachable, else the reason (checked once per session)."""
    if not _pg_problem:
        engine = _pg_admin_engine()
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            _pg_problem.append("")
        except OperationalError as error:
            _pg_problem.append(str(error.orig).strip().splitlines()[0])
        finally:
            engine.dispose()
    return _pg_problem[0] or None


def _require_postgres() -> None:
    problem = postgres_reachable()
    if problem is not None:
        pytest.skip(f"POSTGRESQL NOT REACHABLE at {PG_ADMIN_URL}: {problem}")


def _url_of(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@contextmanager
def _database(template: str | None = None) -> Iterator[str]:
    """Create a uniquely named database (optionally cloned from `template`); drop it after."""
    name = f"menwei_store_{uuid.uuid4().hex[:16]}"
    admin = _pg_admin_engine()
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    try:
        yield name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head once per session; per-test databases are cloned from it."""
    _require_postgres()
    folder = tmp_path_factory.mktemp("pg-template")
    key = folder / "key"
    generate_key_file(key)
    with _database() as name:
        open_store(store_config(_url_of(name), key, folder)).close()
        yield name


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty, uniquely named PostgreSQL database, dropped after the test."""
    _require_postgres()
    with _database() as name:
        yield _url_of(name)


@pytest.fixture
def migrated_postgres_url(postgres_template: str) -> Iterator[str]:
    """A uniquely named PostgreSQL database already at head (cloned), dropped after the test."""
    with _database(template=postgres_template) as name:
        yield _url_of(name)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "template.key"
    generate_key_file(path)
    return path


def store_config(url: str, key_file: Path, tmp_path: Path) -> StoreConfig:
    return StoreConfig(url=url, key_file=key_file, backup_dir=tmp_path / "backups")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database for `store`: a new SQLite file, or a PostgreSQL database cloned at head."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'menwei.db'}"
    return str(request.getfixturevalue("migrated_postgres_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no schema) for the migration tests."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'menwei.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(backend_url: str, key_file: Path, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(store_config(backend_url, key_file, tmp_path))
    try:
        yield opened
    finally:
        opened.close()


@dataclass(frozen=True)
class World:
    """A small site: building 3 with two doors and two units, building 5 with one door."""

    site_id: int
    door_id: int
    side_door_id: int
    other_door_id: int
    unit_id: int
    other_unit_id: int
    owner_id: int
    tenant_id: int
    staff_id: int
    far_unit_id: int


@pytest.fixture
def sqlite_store(tmp_path: Path, key_file: Path) -> Iterator[Store]:
    """A store on SQLite only, for file-level checks (bytes on disk, WAL, crashes)."""
    opened = open_store(store_config(f"sqlite:///{tmp_path / 'menwei.db'}", key_file, tmp_path))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def world(store: Store) -> World:
    return build_world(store)


def build_world(store: Store) -> World:
    with store.sessions.writing() as session:
        site = add_site(
            session,
            code="yuyuan",
            name="豫园小区",
            province="上海市",
            city="上海市",
            district="黄浦区",
            street="豫园街道",
            community="豫园社区",
        )
        b3 = add_building(session, site.id, "3")
        b5 = add_building(session, site.id, "5")
        door = add_door(session, b3.id, "b3-main", "gw-1", "3号楼正门")
        side = add_door(session, b3.id, "b3-side", "gw-1", "3号楼侧门")
        other = add_door(session, b5.id, "b5-main", "gw-2", "5号楼正门")
        unit = add_unit(session, b3.id, "1", "101")
        other_unit = add_unit(session, b3.id, "2", "202")
        far_unit = add_unit(session, b5.id, "1", "501")
        start = T0 - timedelta(days=30)
        owner = add_person(
            session,
            external_id="p-owner",
            display_name="张伟",
            role=Role.OWNER,
            unit_id=unit.id,
            valid_from=start,
        )
        tenant = add_person(
            session,
            external_id="p-tenant",
            display_name="李娜",
            role=Role.TENANT,
            unit_id=other_unit.id,
            valid_from=start,
            valid_until=T0 + timedelta(days=30),
        )
        staff = add_person(
            session,
            external_id="p-staff",
            display_name="王强",
            role=Role.STAFF,
            unit_id=None,
            valid_from=start,
        )
        add_card(session, owner.id, 12, 34567)
        record_consent(
            session, owner.id, text_version="2026-01", taken_by="guard-1", taken_at=start
        )
        return World(
            site.id,
            door.id,
            side.id,
            other.id,
            unit.id,
            other_unit.id,
            owner.id,
            tenant.id,
            staff.id,
            far_unit.id,
        )
