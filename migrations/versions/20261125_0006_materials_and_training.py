"""Materials and their lots, lot consumption, training records.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 00:36:23.395853
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "material",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("part_number", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("specification", sa.Text(), nullable=False),
        sa.Column("storage_condition", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_material")),
        sa.UniqueConstraint("part_number", name=op.f("uq_material_part_number")),
    )
    op.create_table(
        "material_lot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=False),
        sa.Column("lot_number", sa.String(length=64), nullable=False),
        sa.Column("supplier", sa.String(length=200), nullable=False),
        sa.Column("supplier_lot", sa.String(length=120), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("quantity_received_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("quantity_received_unit", sa.String(length=32), nullable=False),
        sa.Column(
            "quantity_remaining_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False
        ),
        sa.Column("quantity_remaining_unit", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "quarantine",
                "released",
                "rejected",
                name="lot_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("received_by_id", sa.Integer(), nullable=False),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["material_id"], ["material.id"], name=op.f("fk_material_lot_material_id_material")),
        sa.ForeignKeyConstraint(
            ["received_by_id"], ["user_account.id"], name=op.f("fk_material_lot_received_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_material_lot")),
        sa.UniqueConstraint("lot_number", name=op.f("uq_material_lot_lot_number")),
    )
    with op.batch_alter_table("material_lot", schema=None) as batch_op:
        batch_op.create_index("ix_material_lot_material", ["material_id", "expires_on"], unique=False)

    op.create_table(
        "training_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("trained_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["user_account.id"], name=op.f("fk_training_record_recorded_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_training_record_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_record")),
    )
    with op.batch_alter_table("training_record", schema=None) as batch_op:
        batch_op.create_index("ix_training_record_user_subject", ["user_id", "subject"], unique=False)

    op.create_table(
        "lot_consumption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("quantity_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("quantity_unit", sa.String(length=32), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["material_lot.id"], name=op.f("fk_lot_consumption_lot_id_material_lot")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_lot_consumption_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_consumption")),
    )
    with op.batch_alter_table("lot_consumption", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lot_consumption_lot_id"), ["lot_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lot_consumption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lot_consumption_lot_id"))

    op.drop_table("lot_consumption")
    with op.batch_alter_table("training_record", schema=None) as batch_op:
        batch_op.drop_index("ix_training_record_user_subject")

    op.drop_table("training_record")
    with op.batch_alter_table("material_lot", schema=None) as batch_op:
        batch_op.drop_index("ix_material_lot_material")

    op.drop_table("material_lot")
    op.drop_table("material")
