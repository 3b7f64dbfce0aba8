"""Where the gateway keeps its data on disk, derived from the config (no file is touched)."""

from __future__ import annotations

from pathlib import Path

from gateway.config.model import GatewayConfig
from gateway.store.engine import database_url


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for PostgreSQL or in-memory)."""
    parsed = database_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database).removeprefix("file:").split("?", 1)[0])


def data_folder(config: GatewayConfig) -> Path:
    """The folder holding the SQLite database, else the backup folder (PostgreSQL)."""
    database = sqlite_path(config.store.url)
    return database.parent if database is not None else config.store.backup_dir
