"""A partial index of the steps still to do (neither completed nor skipped), by batch and position: a batch's
current step, its first such step, is one entry of it, so the dashboard's held batches and the batch list find the
current steps of the batches in progress without reading every step of every open batch.

Revision ID: 20261208_batch_step_open
Revises: 20261207_aliquotrules_processed
Create Date: 2026-12-08 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261208_batch_step_open"
down_revision = "20261207_aliquotrules_processed"
branch_labels = None
depends_on = None

_STEP_OPEN = "status NOT IN ('completed', 'skipped')"


def upgrade() -> None:
    with op.batch_alter_table("batch_step") as batch_op:
        batch_op.create_index(
            "ix_batch_step_open",
            ["batch_id", "position"],
            unique=False,
            postgresql_where=sa.text(_STEP_OPEN),
            sqlite_where=sa.text(_STEP_OPEN),
        )


def downgrade() -> None:
    with op.batch_alter_table("batch_step") as batch_op:
        batch_op.drop_index("ix_batch_step_open")
