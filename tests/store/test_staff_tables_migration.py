"""Revision 0004 brings the staff page's tables (prov_account, prov_session) into the migrations:
a fresh store has them; a store whose page made them with create_all keeps them and their rows,
and the pre-migration backup holds them; the retired throttle table goes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, select, text

from gateway.store.engine import database_url
from gateway.store.migrate import head_revision
from gateway.store.schema_staff import StaffAccount, StaffRole
from gateway.store.store import open_store
from tests.store.conftest import store_config
from tests.store.test_migrations import _upgrade_to

LEGACY_DDL = (
    "CREATE TABLE prov_account (id INTEGER PRIMARY KEY, username VARCHAR(64) NOT NULL UNIQUE, "
    "password_hash VARCHAR(200) NOT NULL, role VARCHAR(16) NOT NULL, active BOOLEAN NOT NULL, "
    "created_at TIMESTAMP WITH TIME ZONE NOT NULL)",
    "CREATE TABLE prov_session (token_hash VARCHAR(64) PRIMARY KEY, account_id INTEGER NOT NULL "
    "REFERENCES prov_account (id) ON DELETE CASCADE, csrf_token VARCHAR(64) NOT NULL, "
    "created_at TIMESTAMP WITH TIME ZONE NOT NULL, last_seen_at TIMESTAMP WITH TIME ZONE NOT "
    "NULL, source_address VARCHAR(64))",
    "CREATE TABLE prov_login_throttle (source VARCHAR(64) PRIMARY KEY)",
    "INSERT INTO prov_account (id, username, password_hash, role, active, created_at) VALUES "
    "(1, 'warden', 'argon2-hash', 'admin', TRUE, '2026-01-01 00:00:00+00:00')",
)


def test_a_fresh_store_has_the_staff_tables(
    empty_backend_url: str, key_file: Path, tmp_path: Path
) -> None:
    store = open_store(store_config(empty_backend_url, key_file, tmp_path))
    try:
        with store.sessions.writing() as session:
            session.add(
                StaffAccount(
                    username="a",
                    password_hash="h",
                    role=StaffRole.STAFF,
                    active=True,
                    created_at=datetime.now(UTC),
                )
            )
        with store.engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
        assert {"prov_account", "prov_session"} <= tables
    finally:
        store.close()


def test_tables_made_by_the_old_page_are_kept_backed_up_and_the_throttle_goes(
    empty_backend_url: str, key_file: Path, tmp_path: Path
) -> None:
    _upgrade_to(empty_backend_url, "0003")
    raw = create_engine(database_url(empty_backend_url))
    with raw.begin() as connection:
        for statement in LEGACY_DDL:
            connection.execute(text(statement))
    store = open_store(store_config(empty_backend_url, key_file, tmp_path))
    try:
        assert store.migration.from_revision == "0003"
        assert store.migration.to_revision == head_revision()
        backup = store.migration.backup
        assert backup is not None and backup.exists()
        if empty_backend_url.startswith("sqlite"):
            copy = sqlite3.connect(backup)
            assert copy.execute("SELECT username FROM prov_account").fetchall() == [("warden",)]
            copy.close()
        else:
            assert backup.read_bytes()[:5] == b"PGDMP"
        with store.sessions.reading() as session:
            assert session.scalars(select(StaffAccount.username)).all() == ["warden"]
        with store.engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
        assert "prov_login_throttle" not in tables
    finally:
        store.close()
        raw.dispose()
