"""The batch list, newest first and by status, reads an index instead of sorting every batch of the lab.

Revision ID: 20261205_scale_batch_list
Revises: 20261205_speed_step_hash
Create Date: 2026-12-05 01:15:00
"""

from __future__ import annotations

from alembic import op

revision = "20261205_scale_batch_list"
down_revision = "20261205_speed_step_hash"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.create_index("ix_batch_created_at", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_batch_status_created_at", ["status", "created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.drop_index("ix_batch_status_created_at")
        batch_op.drop_index("ix_batch_created_at")
