"""Dashboards and lists read indexes instead of rows: a record's signatures by meaning and content hash, who recorded
a step's values, a batch's current step, the lots in quarantine, the equipment in each calibration state.

Revision ID: 20261206_floor_page_indexes
Revises: 20261206_floor_picker_indexes
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from alembic import op

revision = "20261206_floor_page_indexes"
down_revision = "20261206_floor_picker_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain index statements: the signature table keeps its append-only triggers (no table rebuild on SQLite).
    op.create_index(
        "ix_electronic_signature_entity_content",
        "electronic_signature",
        ["entity_type", "entity_id", "meaning", "content_hash"],
        unique=False,
    )
    op.drop_index("ix_electronic_signature_entity", table_name="electronic_signature")
    with op.batch_alter_table("batch_entry", schema=None) as batch_op:
        batch_op.create_index("ix_batch_entry_parameter_entered_by", ["parameter_id", "entered_by_id"], unique=False)
        batch_op.drop_index("ix_batch_entry_parameter_id")
    with op.batch_alter_table("batch_step", schema=None) as batch_op:
        batch_op.create_index("ix_batch_step_position_status", ["batch_id", "position", "status"], unique=False)
    with op.batch_alter_table("material_lot", schema=None) as batch_op:
        batch_op.create_index("ix_material_lot_status", ["status"], unique=False)
    with op.batch_alter_table("equipment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_equipment_calibration_state",
            ["retired_at", "under_maintenance", "out_of_tolerance", "calibration_due_on"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("equipment", schema=None) as batch_op:
        batch_op.drop_index("ix_equipment_calibration_state")
    with op.batch_alter_table("material_lot", schema=None) as batch_op:
        batch_op.drop_index("ix_material_lot_status")
    with op.batch_alter_table("batch_step", schema=None) as batch_op:
        batch_op.drop_index("ix_batch_step_position_status")
    with op.batch_alter_table("batch_entry", schema=None) as batch_op:
        batch_op.create_index("ix_batch_entry_parameter_id", ["parameter_id"], unique=False)
        batch_op.drop_index("ix_batch_entry_parameter_entered_by")
    op.create_index(
        "ix_electronic_signature_entity", "electronic_signature", ["entity_type", "entity_id"], unique=False
    )
    op.drop_index("ix_electronic_signature_entity_content", table_name="electronic_signature")
