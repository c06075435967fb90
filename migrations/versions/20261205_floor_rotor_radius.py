"""Equipment states the rotor radius of a centrifuge, so rpm and × g convert for it.

Revision ID: 20261205_floor_rotor_radius
Revises: 20261205_scale_batch_list
Create Date: 2026-12-05 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261205_floor_rotor_radius"
down_revision = "20261205_scale_batch_list"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("equipment") as batch_op:
        batch_op.add_column(
            sa.Column("rotor_radius_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True)
        )
        batch_op.add_column(sa.Column("rotor_radius_unit", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("equipment") as batch_op:
        batch_op.drop_column("rotor_radius_unit")
        batch_op.drop_column("rotor_radius_value")
