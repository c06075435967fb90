"""Password history (the hashes of a user's previous passwords) and the mark of a demo database.

Revision ID: passwords_history
Revises: sessions_server_side
Create Date: 2026-12-04 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "passwords_history"
down_revision = "sessions_server_side"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_password_history_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.create_index("ix_password_history_user_replaced", ["user_id", "replaced_at"], unique=False)
    op.create_table(
        "demo_database_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demo_database_mark")),
    )


def downgrade() -> None:
    op.drop_table("demo_database_mark")
    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.drop_index("ix_password_history_user_replaced")
    op.drop_table("password_history")
