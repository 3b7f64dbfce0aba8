"""A fresh SQLite store in a test's tmp_path: the one way unit tests outside tests/store get a real
store (tests/store runs the same store on SQLite and PostgreSQL with its own fixtures)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateway.config.store import StoreConfig
from gateway.store.crypto import generate_key_file
from gateway.store.store import Store, open_store


@contextmanager
def sqlite_store_in(tmp_path: Path, **settings: Any) -> Iterator[Store]:
    """Open a migrated SQLite store with a new owner-only template key under `tmp_path` (backups in
    `tmp_path/backups`; `settings` override other StoreConfig fields), closed on exit. The
    environment is not read, so a developer's MENWEI_* variables never leak into a test."""
    key = tmp_path / "template.key"
    generate_key_file(key)
    config = StoreConfig(
        url=f"sqlite:///{tmp_path / 'menwei.db'}",
        key_file=key,
        backup_dir=tmp_path / "backups",
        **settings,
    )
    opened = open_store(config, environ={})
    try:
        yield opened
    finally:
        opened.close()
