"""Store schema, part 5: visitor calls are access events.

* access_event.method accepts "call" (a visitor call placed, answered, declined or missed);
* access_event.call_id: the call an event belongs to (NULL for every other event).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_METHODS = ("face", "card", "code", "pin", "remote", "exit", "fire")
NEW_METHODS = ("face", "card", "code", "pin", "remote", "call", "exit", "fire")


def _method_enum(values: Sequence[str]) -> sa.Enum:
    return sa.Enum(
        *values, name="access_method", native_enum=False, create_constraint=True, length=16
    )


def _set_methods(old: Sequence[str], new: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite keeps CHECK constraints inside CREATE TABLE: batch mode copies the table.
        with op.batch_alter_table("access_event", recreate="always") as batch_op:
            batch_op.alter_column(
                "method", existing_type=_method_enum(old), type_=_method_enum(new)
            )
        return
    op.drop_constraint(op.f("ck_access_event_access_method"), "access_event", type_="check")
    listed = ", ".join(f"'{value}'" for value in new)
    op.create_check_constraint(
        op.f("ck_access_event_access_method"), "access_event", sa.text(f"method IN ({listed})")
    )


def upgrade() -> None:
    op.add_column("access_event", sa.Column("call_id", sa.String(length=64), nullable=True))
    _set_methods(OLD_METHODS, NEW_METHODS)


def downgrade() -> None:
    op.execute("DELETE FROM access_event WHERE method = 'call'")
    _set_methods(NEW_METHODS, OLD_METHODS)
    with op.batch_alter_table("access_event") as batch_op:
        batch_op.drop_column("call_id")
