"""Start-up migrations: fresh schema equals the models, backup before upgrading, refusals."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from gateway.store.errors import SchemaTooNew, StoreCorrupt, StoreReadOnly
from gateway.store.migrate import alembic_config, head_revision, integrity_problems
from gateway.store.schema import Base
from gateway.store.store import Store, open_store
from tests.store.conftest import store_config


def test_fresh_store_is_at_head_and_matches_the_models(
    empty_backend_url: str, key_file: Path, tmp_path: Path
) -> None:
    store = open_store(store_config(empty_backend_url, key_file, tmp_path))
    try:
        assert store.migration.from_revision is None
        assert store.migration.to_revision == head_revision() == "0005"
        assert store.migration.backup is None  # nothing to back up in an empty database
        with store.engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diffs == []
    finally:
        store.close()


def test_sqlite_pragmas_are_set(tmp_path: Path, key_file: Path) -> None:
    opened = open_store(store_config(f"sqlite:///{tmp_path / 'p.db'}", key_file, tmp_path))
    try:
        with opened.sessions.reading() as session:
            values = {
                name: session.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "secure_delete")
            }
            timeout = session.execute(text("PRAGMA busy_timeout")).scalar()
        assert values == {
            "journal_mode": "wal",
            "synchronous": 2,
            "foreign_keys": 1,
            "secure_delete": 1,
        }
        assert timeout == 5000
    finally:
        opened.close()


def _upgrade_to(url: str, revision: str) -> None:
    from gateway.store.engine import make_engine

    engine = make_engine(store_config(url, Path("unused"), Path("/tmp")))
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()
    engine.dispose()


def test_upgrade_backs_up_first_and_keeps_data(
    empty_backend_url: str, key_file: Path, tmp_path: Path
) -> None:
    backend_url = empty_backend_url
    _upgrade_to(backend_url, "0001")
    from sqlalchemy import create_engine

    from gateway.store.engine import database_url

    raw = create_engine(database_url(backend_url))
    with raw.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO site (code, name, province, city, district, street, community, "
                "timezone) VALUES ('s1', 'n', 'p', 'c', 'd', 's', 'co', 'Asia/Shanghai')"
            )
        )
    raw.dispose()
    opened = open_store(store_config(backend_url, key_file, tmp_path))
    try:
        assert (opened.migration.from_revision, opened.migration.to_revision) == (
            "0001",
            head_revision(),
        )
        backup = opened.migration.backup
        assert backup is not None and backup.exists() and backup.parent == tmp_path / "backups"
        assert "rev-0001" in backup.name
        if backend_url.startswith("sqlite"):
            copy = sqlite3.connect(backup)
            assert copy.execute("SELECT code FROM site").fetchall() == [("s1",)]
            assert copy.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
            copy.close()
        else:
            assert backup.read_bytes()[:5] == b"PGDMP"  # pg_dump custom-format archive
        with opened.sessions.reading() as session:
            assert session.execute(text("SELECT code FROM site")).scalars().all() == ["s1"]
    finally:
        opened.close()
    again = open_store(store_config(backend_url, key_file, tmp_path))
    assert again.migration.backup is None and again.migration.from_revision == head_revision()
    again.close()


def test_a_newer_schema_is_refused_naming_both_revisions(
    store: Store, backend_url: str, key_file: Path, tmp_path: Path
) -> None:
    with store.sessions.writing() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    store.close()
    with pytest.raises(SchemaTooNew, match=rf"'0099_future'.*'{head_revision()}'"):
        open_store(store_config(backend_url, key_file, tmp_path))
    assert not (tmp_path / "backups").exists()  # refused before any backup or change


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path, key_file: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreCorrupt, match=r"garbage\.db"):
        open_store(store_config(f"sqlite:///{path}", key_file, tmp_path))
    assert path.read_bytes() == b"this is not sqlite at all" * 100


def test_a_damaged_database_is_refused(tmp_path: Path, key_file: Path) -> None:
    path = tmp_path / "damaged.db"
    opened = open_store(store_config(f"sqlite:///{path}", key_file, tmp_path))
    opened.close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xa5" * (4096 - 100)  # smash the schema page after the header
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt, match=r"damaged\.db"):
        open_store(store_config(f"sqlite:///{path}", key_file, tmp_path))


def test_a_read_only_database_is_refused(tmp_path: Path, key_file: Path) -> None:
    path = tmp_path / "ro.db"
    open_store(store_config(f"sqlite:///{path}", key_file, tmp_path)).close()
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    with pytest.raises(StoreReadOnly, match="read-only"):
        open_store(store_config(url, key_file, tmp_path))


def test_integrity_check_of_a_fresh_store_is_clean(store: Store) -> None:
    assert integrity_problems(store.engine) == []


def test_a_failing_migration_rolls_back_to_the_old_revision(
    empty_backend_url: str, key_file: Path, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.store.engine import database_url

    _upgrade_to(empty_backend_url, "0001")
    raw = create_engine(database_url(empty_backend_url))
    with raw.begin() as connection:  # a stray table makes 0002 fail half-way
        connection.execute(text("CREATE TABLE alert (id INTEGER PRIMARY KEY)"))
    with pytest.raises(SQLAlchemyError, match="alert"):
        open_store(store_config(empty_backend_url, key_file, tmp_path))
    with raw.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            "0001"
        )
        tables = set(inspect(connection).get_table_names())
    raw.dispose()
    assert "audit_log" not in tables and "outbox" not in tables  # 0002 left nothing behind
    assert len(list((tmp_path / "backups").iterdir())) == 1  # the backup was taken first
