"""Engines for SQLite and PostgreSQL: SQLite pragmas, explicit BEGIN, and read/write sessions.

SQLite: WAL (readers never block the writer), synchronous from the config (FULL by default, see
StoreConfig), foreign_keys=ON, busy_timeout, secure_delete=ON (freed pages are zeroed, so erased
templates do not linger in the file). Python's sqlite3 module is put in autocommit mode and
SQLAlchemy emits BEGIN itself: plain BEGIN for readers, BEGIN IMMEDIATE for writers, so a writer
takes the write lock up front and waits busy_timeout for it instead of failing on lock upgrade.

A store has two lanes (`StoreLanes`), each with its own engine and connection pool: the door's
(the running service) and the staff page's, which may hold at most a few connections. On SQLite
both lanes take the process's write turn (`WriteGate`) before BEGIN IMMEDIATE, and the door's lane
always goes first, so no amount of staff-page traffic can make a door decision wait for more than
the one write transaction in progress, or for a connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway.config.store import StoreConfig
from gateway.store.write_gate import WriteGate, WriteLane

WRITE_OPTION = "menwei_write"
# The staff page's pool: a handful of connections, whatever the web server's thread count.
STAFF_POOL_SIZE = 4
STAFF_POOL_OVERFLOW = 8


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


def make_engine(config: StoreConfig, *, pool: dict[str, int] | None = None) -> Engine:
    """An engine for the configured URL; SQLite gets the pragmas and BEGIN handling above.

    `pool` overrides the connection pool's pool_size / max_overflow (the staff lane's bound)."""
    url = database_url(config.url)
    pool_args: dict[str, Any] = dict(pool or {})
    if pool_args:
        pool_args["pool_timeout"] = config.busy_timeout_ms / 1000
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": config.busy_timeout_ms / 1000}, **pool_args
        )
        _install_sqlite_hooks(engine, config)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool_args)


class Sessions:
    """Session factories over one engine: `reading()` for queries, `writing()` for changes.

    `writing()` commits when the block ends without an exception and rolls back otherwise;
    on SQLite it starts with BEGIN IMMEDIATE, inside the process's write turn for its lane (the
    pool connection is taken first, so the turn is never held while waiting for one).
    """

    def __init__(
        self, engine: Engine, gate: WriteGate | None = None, lane: WriteLane = WriteLane.DOOR
    ) -> None:
        self.engine = engine
        self.gate = gate
        self.lane = lane
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        turn = nullcontext() if self.gate is None else self.gate.turn(self.lane)
        with (
            self._write_engine.connect() as connection,
            turn,
            Session(bind=connection, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session


@dataclass(frozen=True)
class StoreLanes:
    """The door's and the staff page's sessions over one database, sharing one write gate."""

    door: Sessions
    staff: Sessions

    def dispose(self) -> None:
        """Close every pooled connection of both lanes (the engines stay usable)."""
        self.door.engine.dispose()
        self.staff.engine.dispose()


def open_lanes(config: StoreConfig, door_engine: Engine) -> StoreLanes:
    """Both lanes; the door's uses `door_engine` (the one the store was migrated with).

    An in-memory SQLite database exists once per engine, so there both lanes share it."""
    database = door_engine.url.database
    if is_sqlite(door_engine.url) and (not database or database == ":memory:"):
        staff_engine = door_engine
    else:
        staff_engine = make_engine(
            config, pool={"pool_size": STAFF_POOL_SIZE, "max_overflow": STAFF_POOL_OVERFLOW}
        )
    gate = WriteGate(config.busy_timeout_ms / 1000) if is_sqlite(door_engine.url) else None
    return StoreLanes(
        door=Sessions(door_engine, gate, WriteLane.DOOR),
        staff=Sessions(staff_engine, gate, WriteLane.STAFF),
    )
