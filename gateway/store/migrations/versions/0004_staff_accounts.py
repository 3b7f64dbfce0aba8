"""Store schema, part 4: the staff page's accounts and sessions (`prov_account`, `prov_session`).

They were created by the page with `create_all` outside the migrations, so neither a migration nor
the pre-migration backup knew them. A database that already has them (made by that code) keeps
them and their rows as they are: the columns are the same. The retired login-throttle table is
dropped.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 11:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RETIRED_THROTTLE_TABLE = "prov_login_throttle"


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "prov_account" not in existing:
        op.create_table(
            "prov_account",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("username", sa.String(length=64), nullable=False),
            sa.Column("password_hash", sa.String(length=200), nullable=False),
            sa.Column(
                "role",
                sa.Enum(
                    "admin",
                    "staff",
                    name="prov_account_role",
                    native_enum=False,
                    create_constraint=True,
                    length=16,
                ),
                nullable=False,
            ),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_prov_account")),
            sa.UniqueConstraint("username", name=op.f("uq_prov_account_username")),
        )
    if "prov_session" not in existing:
        op.create_table(
            "prov_session",
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column("account_id", sa.Integer(), nullable=False),
            sa.Column("csrf_token", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("source_address", sa.String(length=64), nullable=True),
            sa.ForeignKeyConstraint(
                ["account_id"],
                ["prov_account.id"],
                name=op.f("fk_prov_session_account_id_prov_account"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_prov_session")),
        )
        op.create_index(
            op.f("ix_prov_session_account_id"), "prov_session", ["account_id"], unique=False
        )
    op.execute(sa.text(f"DROP TABLE IF EXISTS {RETIRED_THROTTLE_TABLE}"))


def downgrade() -> None:
    op.drop_index(op.f("ix_prov_session_account_id"), table_name="prov_session")
    op.drop_table("prov_session")
    op.drop_table("prov_account")
