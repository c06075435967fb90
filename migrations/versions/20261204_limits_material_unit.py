"""A material names the unit its lots are counted in; a lot's quantity is in that unit's dimension.

A material registered before takes the unit of its first lot, or none (items) when it has no lot yet.

Revision ID: limits_material_unit
Revises: limits_value_kinds
Create Date: 2026-12-04 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "limits_material_unit"
down_revision = "limits_value_kinds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("material") as batch_op:
        batch_op.add_column(sa.Column("unit", sa.String(length=32), nullable=False, server_default=""))
    op.execute(
        "UPDATE material SET unit = COALESCE((SELECT lot.quantity_received_unit FROM material_lot AS lot "
        "WHERE lot.material_id = material.id ORDER BY lot.id LIMIT 1), '')"
    )
    with op.batch_alter_table("material") as batch_op:
        batch_op.alter_column("unit", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("material") as batch_op:
        batch_op.drop_column("unit")
