"""Alembic migrations of the station console's schema (run by `station_console.db.migrate`)."""
