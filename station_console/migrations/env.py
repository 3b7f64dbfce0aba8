"""Alembic environment of the console's database: runs on the connection `db.migrate` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from station_console.schema import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("console migrations run only through station_console.db.migrate")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    transaction_per_migration=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
