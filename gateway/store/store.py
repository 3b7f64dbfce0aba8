"""Opening the store at start-up: key, engine, migration, and the handles the services use.

`open_store(config)` loads the template key (failing before anything is touched if it is
missing), builds the engine, checks the database (corrupt / read-only / newer schema), backs it
up and migrates it to head. The returned Store holds only the session factories and the crypto
objects; every repository function takes a Session explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from gateway.store.config import StoreConfig
from gateway.store.crypto import TemplateCipher, load_key
from gateway.store.engine import Sessions, make_engine
from gateway.store.migrate import MigrationReport, migrate, sqlite_file
from gateway.store.secrets_hash import CodeHasher


@dataclass(frozen=True)
class Store:
    """An open store: session factories, template cipher, visitor-code hasher, its config."""

    sessions: Sessions
    cipher: TemplateCipher
    codes: CodeHasher
    migration: MigrationReport
    config: StoreConfig

    @property
    def engine(self) -> Engine:
        return self.sessions.engine

    def close(self) -> None:
        self.sessions.engine.dispose()


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
    return Store(Sessions(engine), cipher, CodeHasher(cipher), report, config)
