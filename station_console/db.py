"""The console's PostgreSQL: engine, sessions, and Alembic upgrade to head at start-up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the schema to head (each revision in its own transaction)."""
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """An engine and its session factory; `session()` commits on success, rolls back on error."""

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.engine = create_engine(url, pool_size=pool_size, pool_pre_ping=True)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._factory() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def open_database(url: str) -> Database:
    database = Database(url)
    migrate(database.engine)
    return database
