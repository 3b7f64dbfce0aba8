"""Visitor calls: `sc_call`, one row per call, the caller's snapshot only while it rings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 11:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    stamp = sa.DateTime(timezone=True)
    op.create_table(
        "sc_call",
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("door", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("placed_at", stamp, nullable=False),
        sa.Column("received_at", stamp, nullable=False),
        sa.Column("ended_at", stamp, nullable=True),
        sa.Column("answered_by", sa.String(length=128), nullable=True),
        sa.Column("answer_command_id", sa.String(length=36), nullable=True),
        sa.Column("last_refusal", sa.String(length=64), nullable=True),
        sa.Column("snapshot", sa.LargeBinary(), nullable=True),
        sa.Column("snapshot_truncated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_sc_call")),
    )
    op.create_index("ix_sc_call_state_received", "sc_call", ["state", "received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sc_call_state_received", table_name="sc_call")
    op.drop_table("sc_call")
