"""Schema migrations at start-up: check the file, refuse newer schemas, back up, upgrade to head.

`migrate(engine, config)` is what `open_store` calls. A database is backed up only when a
migration is actually about to change an existing schema; an empty new database is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DatabaseError, OperationalError

from gateway.config.store import StoreConfig
from gateway.store.backup import backup_postgresql, backup_sqlite
from gateway.store.engine import WRITE_OPTION
from gateway.store.errors import SchemaTooNew, StoreCorrupt, StoreReadOnly

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class MigrationReport:
    """What start-up did to the schema."""

    from_revision: str | None
    to_revision: str
    backup: Path | None


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration found in {MIGRATIONS}")
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def sqlite_file(engine: Engine) -> Path | None:
    """The database file of a SQLite engine (None for PostgreSQL or in-memory SQLite)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    return Path(database)


def check_sqlite_file(path: Path) -> None:
    """Refuse a file that exists but is not a SQLite database (before SQLite touches it)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise StoreCorrupt(f"{path} is not a SQLite database (bad header {header[:16]!r})")


def check_revision_known(revision: str | None) -> None:
    if revision is None:
        return
    try:
        known = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise SchemaTooNew(
            f"the database schema is at revision {revision!r}, which this menwei does not know "
            f"(its newest is {head_revision()!r}): it was written by a newer version. Upgrade "
            "menwei or restore a backup; the database was not touched"
        )


def _probe(engine: Engine, path: Path | None) -> str | None:
    """Read the schema revision and take the write lock once; map SQLite failures to errors."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1")).all()
            revision = current_revision(connection)
        if engine.dialect.name == "sqlite":
            with engine.execution_options(**{WRITE_OPTION: True}).connect() as writer:
                writer.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()
                user_version = int(writer.exec_driver_sql("PRAGMA user_version").scalar_one())
                writer.exec_driver_sql(f"PRAGMA user_version = {user_version}")  # a real write
                writer.rollback()
        return revision
    except OperationalError as error:
        if "readonly" in str(error.orig) or "read-only" in str(error.orig):
            raise StoreReadOnly(
                f"{path or engine.url} is read-only ({error.orig}): the gateway must be able to "
                "write its database and the -wal/-shm files next to it"
            ) from error
        if path is not None and "unable to open" in str(error.orig):
            raise StoreReadOnly(f"cannot open {path} for writing: {error.orig}") from error
        raise
    except DatabaseError as error:
        if path is not None:
            raise StoreCorrupt(f"{path} is corrupt or not a database: {error.orig}") from error
        raise


def migrate(engine: Engine, config: StoreConfig) -> MigrationReport:
    """Bring the schema to head, backing up first; refuse unknown (newer) revisions."""
    path = sqlite_file(engine)
    if path is not None:
        check_sqlite_file(path)
    revision = _probe(engine, path)
    check_revision_known(revision)
    head = head_revision()
    if revision == head:
        return MigrationReport(revision, head, None)
    backup: Path | None = None
    if revision is not None:
        if path is not None:
            backup = backup_sqlite(path, config.backup_dir, revision)
        elif engine.dialect.name == "postgresql":
            backup = backup_postgresql(
                engine.url, config.backup_dir, revision, config.postgres_migrate_without_backup
            )
    alembic = alembic_config()
    with engine.connect() as connection:
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, "head")
        connection.commit()
    return MigrationReport(revision, head, backup)


def integrity_problems(engine: Engine) -> list[str]:
    """`PRAGMA integrity_check` rows other than 'ok' (SQLite; PostgreSQL returns [])."""
    if engine.dialect.name != "sqlite":
        return []
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("PRAGMA integrity_check").all()
    return [str(row[0]) for row in rows if str(row[0]) != "ok"]
