"""Opening the store at start-up: key, engine, migration, and the handles the services use.

`open_store(config)` loads the template key (failing before anything is touched if it is
missing), builds the engine, checks the database (corrupt / read-only / newer schema), backs it
up and migrates it to head. The returned Store holds only the session factories and the crypto
objects; every repository function takes a Session explicitly.

`store.sessions` is the door's lane (the running service writes through it). The staff page is
given `store.for_staff_page()`, the same store whose `sessions` are the staff lane: its own small
connection pool, and a write turn only when no door writer waits (see gateway.store.engine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import Engine

from gateway.config.store import StoreConfig
from gateway.store.crypto import TemplateCipher, load_key
from gateway.store.engine import Sessions, StoreLanes, make_engine, open_lanes
from gateway.store.migrate import MigrationReport, migrate, sqlite_file
from gateway.store.secrets_hash import CodeHasher


@dataclass(frozen=True)
class Store:
    """An open store: session factories, template cipher, visitor-code hasher, its config.

    `sessions` is the lane this handle writes through; `lanes` holds both."""

    sessions: Sessions
    cipher: TemplateCipher
    codes: CodeHasher
    migration: MigrationReport
    config: StoreConfig
    lanes: StoreLanes

    @property
    def engine(self) -> Engine:
        return self.sessions.engine

    def for_staff_page(self) -> Store:
        """This store as the staff page must use it: writes and reads through the staff lane."""
        return replace(self, sessions=self.lanes.staff)

    def close(self) -> None:
        self.lanes.dispose()


def open_store(config: StoreConfig, environ: Mapping[str, str] | None = None) -> Store:
    cipher = TemplateCipher(load_key(config, environ), config.key_id)
    engine = make_engine(config)
    try:
        path = sqlite_file(engine)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        report = migrate(engine, config)
    except BaseException:
        engine.dispose()
        raise
    lanes = open_lanes(config, engine)
    return Store(lanes.door, cipher, CodeHasher(cipher), report, config, lanes)
