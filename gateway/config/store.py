"""The `[store]` config table: where the database lives and where its encryption key comes from.

Pure validation only (no file is opened here): `open_store` reads the key and touches the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StoreConfig(BaseModel):
    """Database location, template-encryption key source, backups and SQLite tuning."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    url: str = Field(
        "sqlite:///var/menwei.db",
        min_length=9,
        max_length=1000,
        pattern=r"^(sqlite|postgresql)(\+[a-z0-9]+)?://",
        description="SQLAlchemy URL (SQLite or PostgreSQL; PostgreSQL uses the psycopg driver).",
    )
    key_file: Path | None = Field(
        None,
        description="File holding the 32-byte AES-256 master key (raw, or 64 hex characters). "
        "Exactly one of key_file / key_credential must be set to store face templates.",
    )
    key_credential: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.@-]+$",
        description="systemd credential name: the key is read from "
        "$CREDENTIALS_DIRECTORY/<name> (LoadCredential=/LoadCredentialEncrypted=).",
    )
    key_id: str = Field(
        "k1",
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Identifier of the current key, stored with every encrypted row so a later "
        "key rotation knows which key decrypts which row.",
    )
    backup_dir: Path = Field(
        Path("var/backups"),
        description="Folder for the backup taken before every schema migration "
        "(SQLite online-backup copy, or a pg_dump archive for PostgreSQL).",
    )
    postgres_migrate_without_backup: bool = Field(
        False,
        description="Allow a PostgreSQL migration when pg_dump is not installed (the migration "
        "still runs in one transaction and rolls back on failure).",
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL",
        description="SQLite synchronous mode in WAL. FULL (default): a committed access event or "
        "audit row survives a power cut, at one WAL fsync per commit (a door commits a few rows "
        "a minute). NORMAL is also safe against process crashes but may lose the last commits "
        "on power loss.",
    )
    busy_timeout_ms: int = Field(
        5000,
        ge=100,
        le=60000,
        description="How long a SQLite writer waits for the write lock before failing.",
    )
    max_snapshot_bytes: int = Field(
        262144,
        ge=1024,
        le=4 * 1024 * 1024,
        description="Largest alert snapshot JPEG stored in the database; larger ones are refused.",
    )

    @model_validator(mode="after")
    def _one_key_source(self) -> StoreConfig:
        if self.key_file is not None and self.key_credential is not None:
            raise ValueError("set key_file or key_credential, not both")
        return self
