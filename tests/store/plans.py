"""Query-plan helpers for the performance tests: EXPLAIN a SQLAlchemy statement on its engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Select


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return value


def explain(engine: Engine, statement: Select[Any]) -> str:
    """The plan as text: SQLite EXPLAIN QUERY PLAN details, or PostgreSQL's JSON plan."""
    compiled = statement.compile(dialect=engine.dialect)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            names = compiled.positiontup or []
            params = tuple(_sqlite_value(compiled.params[name]) for name in names)
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params)
            return "\n".join(str(row[-1]) for row in rows)
        row = connection.exec_driver_sql(
            "EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params
        ).scalar_one()
        return json.dumps(row)
