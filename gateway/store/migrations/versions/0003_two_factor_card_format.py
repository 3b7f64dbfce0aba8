"""Store schema, part 3: per-person two-factor, cards bound to their Wiegand format, PIN events,
and the record of confusable-faces checks.

* person.two_factor / two_factor_source: the door asks for a second credential of the same person.
* card.format_bits: existing cards get the shortest format their fields fit (26, else 34, else 37
  bits); a card read in another format than its own is refused.
* access_event.method accepts "pin" (resident PIN at the keypad).
* confusable_check: the model and threshold of each confusable-faces check.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_METHODS = ("face", "card", "code", "remote", "exit", "fire")
NEW_METHODS = ("face", "card", "code", "pin", "remote", "exit", "fire")


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
    # Plain ADD COLUMN (never a batch copy of person: every credential table cascades from it).
    op.add_column(
        "person",
        sa.Column("two_factor", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("person", sa.Column("two_factor_source", sa.String(length=16), nullable=True))
    op.add_column(
        "card", sa.Column("format_bits", sa.Integer(), server_default="26", nullable=False)
    )
    op.execute(
        "UPDATE card SET format_bits = CASE "
        "WHEN facility <= 255 AND number <= 65535 THEN 26 "
        "WHEN number <= 65535 THEN 34 ELSE 37 END"
    )
    _set_methods(OLD_METHODS, NEW_METHODS)
    op.create_table(
        "confusable_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("pairs", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confusable_check")),
    )


def downgrade() -> None:
    op.drop_table("confusable_check")
    # the old schema has no PIN method: keypad PIN events become keypad ("code") events
    op.execute("UPDATE access_event SET method = 'code' WHERE method = 'pin'")
    _set_methods(NEW_METHODS, OLD_METHODS)
    with op.batch_alter_table("card") as batch_op:
        batch_op.drop_column("format_bits")
    op.drop_column("person", "two_factor_source")
    op.drop_column("person", "two_factor")
