"""Alembic environment: runs on the connection gateway.store.migrate hands over, never on a URL.

Each revision runs in its own transaction (transactional DDL on both SQLite and PostgreSQL), and
SQLite uses batch mode so later ALTERs work through table copies.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from gateway.store.schema import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("store migrations run only through gateway.store.migrate (no URL mode)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    transaction_per_migration=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
