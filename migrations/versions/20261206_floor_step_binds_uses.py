"""A step's signatures cover the equipment it used and the lots it took from: a column keeps them as signed.

Steps made before keep NULL there, so their signed content, content hash and signatures stay exactly as they were.

Revision ID: 20261206_floor_step_binds_uses
Revises: 20261206_floor_page_indexes
Create Date: 2026-12-06 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261206_floor_step_binds_uses"
down_revision = "20261206_floor_page_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch_step", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bound_uses", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch_step", schema=None) as batch_op:
        batch_op.drop_column("bound_uses")
