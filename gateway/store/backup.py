"""Backups taken before a schema migration.

SQLite: the online backup API (sqlite3.Connection.backup) copies a consistent snapshot, WAL
included, into <backup_dir>/menwei-<UTC time>-rev-<revision>.db while other readers continue.
PostgreSQL: `pg_dump --format=custom` of the store's database into the same folder (restore with
pg_restore). Without pg_dump the migration is refused unless the config explicitly allows it;
every revision still runs in its own transaction, so a failed migration rolls back.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL

from gateway.store.errors import BackupFailed


def _backup_name(revision: str | None, suffix: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"menwei-{stamp}-rev-{revision or 'empty'}{suffix}"


def backup_sqlite(database: Path, backup_dir: Path, revision: str | None) -> Path:
    """Copy `database` with the online backup API; returns the backup file."""
    try:
        backup_dir.mkdir(parents=True, exist_ok=True)
        target = backup_dir / _backup_name(revision, ".db")
        source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            destination = sqlite3.connect(target)
            try:
                source.backup(destination)
            finally:
                destination.close()
        finally:
            source.close()
    except (OSError, sqlite3.Error) as error:
        raise BackupFailed(
            f"backup of {database} into {backup_dir} before migration failed: {error}"
        ) from error
    return target


def backup_postgresql(
    url: URL, backup_dir: Path, revision: str | None, allow_without_pg_dump: bool
) -> Path | None:
    """pg_dump the database into `backup_dir`; None when pg_dump is absent and that is allowed."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        if allow_without_pg_dump:
            return None
        raise BackupFailed(
            "pg_dump is not installed, so the database cannot be backed up before migration; "
            "install postgresql-client or set store.postgres_migrate_without_backup = true"
        )
    backup_dir.mkdir(parents=True, exist_ok=True)
    target = backup_dir / _backup_name(revision, ".pgdump")
    libpq_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    result = subprocess.run(
        [pg_dump, "--format=custom", "--file", str(target), "--dbname", libpq_url],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupFailed(f"pg_dump before migration failed: {result.stderr.strip()}")
    return target
