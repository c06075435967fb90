"""Pickers read their first matches from an index: an equipment type's items by asset tag, subjects by code.

Revision ID: 20261206_floor_picker_indexes
Revises: 20261206_compliance_area
Create Date: 2026-12-06 22:40:00
"""

from __future__ import annotations

from alembic import op

revision = "20261206_floor_picker_indexes"
down_revision = "20261206_compliance_area"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("equipment", schema=None) as batch_op:
        batch_op.create_index("ix_equipment_type_asset_tag", ["equipment_type", "asset_tag"], unique=False)
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.create_index("ix_subject_code", ["code", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.drop_index("ix_subject_code")
    with op.batch_alter_table("equipment", schema=None) as batch_op:
        batch_op.drop_index("ix_equipment_type_asset_tag")
