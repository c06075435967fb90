"""A reference standard states the quantities it measures, as units; it calibrates only points of those quantities.

A standard registered before is taken to measure the units of the points it has calibrated; one never used
states nothing, and is refused until a standard stating what it measures is registered in its place.

Revision ID: limits_standard_measures
Revises: limits_material_unit
Create Date: 2026-12-04 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "limits_standard_measures"
down_revision = "limits_material_unit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reference_standard") as batch_op:
        batch_op.add_column(sa.Column("measures", sa.String(length=120), nullable=False, server_default=""))
    connection = op.get_bind()
    used = connection.execute(
        sa.text(
            "SELECT DISTINCT record.reference_standard_id, reading.nominal_unit FROM calibration_reading AS reading "
            "JOIN calibration_record AS record ON record.id = reading.record_id "
            "WHERE record.reference_standard_id IS NOT NULL ORDER BY reading.nominal_unit"
        )
    ).all()
    units: dict[int, list[str]] = {}
    for standard_id, unit in used:
        units.setdefault(standard_id, []).append(unit)
    for standard_id, measured in units.items():
        connection.execute(
            sa.text("UPDATE reference_standard SET measures = :measures WHERE id = :id"),
            {"measures": ", ".join(measured)[:120], "id": standard_id},
        )
    with op.batch_alter_table("reference_standard") as batch_op:
        batch_op.alter_column("measures", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("reference_standard") as batch_op:
        batch_op.drop_column("measures")
