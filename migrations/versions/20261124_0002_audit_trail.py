"""Audit trail: the hash-chained audit_event table, append-only on both engines.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 23:33:28.346078
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.append_only import make_append_only

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("sequence", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=True),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("changes", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_action", ["action", "sequence"], unique=False)
        batch_op.create_index("ix_audit_event_entity", ["entity_type", "entity_id", "sequence"], unique=False)
        batch_op.create_index("ix_audit_event_recorded_at", ["recorded_at"], unique=False)
        batch_op.create_index("ix_audit_event_user", ["user_id", "sequence"], unique=False)

    make_append_only("audit_event")


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_user")
        batch_op.drop_index("ix_audit_event_recorded_at")
        batch_op.drop_index("ix_audit_event_entity")
        batch_op.drop_index("ix_audit_event_action")

    op.drop_table("audit_event")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS lims_refuse_change()")
