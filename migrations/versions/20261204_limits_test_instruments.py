"""QC results name the instrument they were measured on; a test definition may name the kind it must be; digital
PCR systems join the equipment types.

Revision ID: limits_test_instruments
Revises: limits_standard_measures
Create Date: 2026-12-04 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "limits_test_instruments"
down_revision = "limits_standard_measures"
branch_labels = None
depends_on = None

_TYPES = (
    "biosafety cabinet",
    "incubator",
    "centrifuge",
    "pipette",
    "balance",
    "freezer",
    "refrigerator",
    "flow cytometer",
    "cell counter",
    "thermometer",
    "water bath",
    "other",
)
_NAMING = {"ck": "ck_%(table_name)s_%(constraint_name)s"}


def _allow_equipment_types(types: tuple[str, ...]) -> None:
    with op.batch_alter_table("equipment", naming_convention=_NAMING) as batch_op:
        batch_op.drop_constraint(op.f("ck_equipment_equipment_type"), type_="check")
        batch_op.create_check_constraint("equipment_type", sa.column("equipment_type").in_(types))


def upgrade() -> None:
    types = (*_TYPES[:8], "digital PCR system", *_TYPES[8:])
    _allow_equipment_types(types)
    with op.batch_alter_table("test_definition", naming_convention=_NAMING) as batch_op:
        batch_op.add_column(sa.Column("instrument_type", sa.String(length=32), nullable=True))
        batch_op.create_check_constraint("instrument_type", sa.column("instrument_type").in_(types))
    with op.batch_alter_table("test_result") as batch_op:
        batch_op.add_column(sa.Column("instrument_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_test_result_instrument_id_equipment"), "equipment", ["instrument_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("test_result") as batch_op:
        batch_op.drop_constraint(op.f("fk_test_result_instrument_id_equipment"), type_="foreignkey")
        batch_op.drop_column("instrument_id")
    with op.batch_alter_table("test_definition", naming_convention=_NAMING) as batch_op:
        batch_op.drop_constraint(op.f("ck_test_definition_instrument_type"), type_="check")
        batch_op.drop_column("instrument_type")
    _allow_equipment_types(_TYPES)
