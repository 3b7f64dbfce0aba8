"""Engines for SQLite and PostgreSQL: SQLite pragmas, explicit BEGIN, and read/write sessions.

SQLite: WAL (readers never block the writer), synchronous from the config (FULL by default, see
StoreConfig), foreign_keys=ON, busy_timeout, secure_delete=ON (freed pages are zeroed, so erased
templates do not linger in the file). Python's sqlite3 module is put in autocommit mode and
SQLAlchemy emits BEGIN itself: plain BEGIN for readers, BEGIN IMMEDIATE for writers, so a writer
takes the write lock up front and waits busy_timeout for it instead of failing on lock upgrade.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway.store.config import StoreConfig

WRITE_OPTION = "menwei_write"


def is_sqlite(url: URL | str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def database_url(raw_url: str) -> URL:
    """The configured URL, with PostgreSQL pinned to the psycopg (v3) driver."""
    url = make_url(raw_url)
    if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg":
        url = url.set(drivername="postgresql+psycopg")
    return url


def _install_sqlite_hooks(engine: Engine, config: StoreConfig) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's begin hook emits BEGIN
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(config.busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute(f"PRAGMA synchronous = {config.sqlite_synchronous}")
            mode = cursor.execute("PRAGMA journal_mode").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writing = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def make_engine(config: StoreConfig) -> Engine:
    """An engine for the configured URL; SQLite gets the pragmas and BEGIN handling above."""
    url = database_url(config.url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": config.busy_timeout_ms / 1000})
        _install_sqlite_hooks(engine, config)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Sessions:
    """Session factories over one engine: `reading()` for queries, `writing()` for changes.

    `writing()` commits when the block ends without an exception and rolls back otherwise;
    on SQLite it starts with BEGIN IMMEDIATE.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        self._write = sessionmaker(
            bind=engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        with self._write.begin() as session:
            yield session
