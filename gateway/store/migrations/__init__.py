"""Alembic migration scripts for the store; run them through gateway.store.migrate only."""
