"""Sample storage (units, racks, boxes and each received sample's place), the chain of custody, and aliquots.

Revision ID: 20261207_storage_custody
Revises: 20261207_perf_step_signed
Create Date: 2026-12-06 01:12:45.630371
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_storage_custody"
down_revision = "20261207_perf_step_signed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storage_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "freezer",
                "fridge",
                "LN2 tank",
                name="storage_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("location", sa.String(length=120), nullable=False),
        sa.Column(
            "minimum_temperature_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False
        ),
        sa.Column("minimum_temperature_unit", sa.String(length=32), nullable=False),
        sa.Column(
            "maximum_temperature_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False
        ),
        sa.Column("maximum_temperature_unit", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_storage_unit_created_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_unit")),
        sa.UniqueConstraint("name", name=op.f("uq_storage_unit_name")),
    )
    op.create_table(
        "storage_rack",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["storage_unit.id"], name=op.f("fk_storage_rack_unit_id_storage_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_rack")),
        sa.UniqueConstraint("unit_id", "name", name="uq_storage_rack_unit_name"),
    )
    op.create_table(
        "storage_box",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rack_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("columns", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("columns BETWEEN 1 AND 26", name=op.f("ck_storage_box_columns")),
        sa.CheckConstraint("rows BETWEEN 1 AND 26", name=op.f("ck_storage_box_rows")),
        sa.ForeignKeyConstraint(["rack_id"], ["storage_rack.id"], name=op.f("fk_storage_box_rack_id_storage_rack")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_box")),
        sa.UniqueConstraint("rack_id", "name", name="uq_storage_box_rack_name"),
    )
    with op.batch_alter_table("storage_box", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_storage_box_rack_id"), ["rack_id"], unique=False)

    op.create_table(
        "aliquot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("volume_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("volume_unit", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["sample.id"], name=op.f("fk_aliquot_child_id_sample")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_aliquot_created_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["sample.id"], name=op.f("fk_aliquot_parent_id_sample")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aliquot")),
        sa.UniqueConstraint("child_id", name=op.f("uq_aliquot_child_id")),
    )
    with op.batch_alter_table("aliquot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aliquot_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "custody_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "received",
                "stored",
                "moved",
                "aliquoted",
                "sent for testing",
                "returned",
                "shipped",
                "disposed",
                name="custody_action",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=False),
        sa.Column("from_location", sa.String(length=300), nullable=True),
        sa.Column("to_location", sa.String(length=300), nullable=True),
        sa.Column("temperature_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("temperature_unit", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["by_id"], ["user_account.id"], name=op.f("fk_custody_event_by_id_user_account")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organization.id"], name=op.f("fk_custody_event_organization_id_organization")
        ),
        sa.ForeignKeyConstraint(["sample_id"], ["sample.id"], name=op.f("fk_custody_event_sample_id_sample")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_event")),
    )
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.create_index("ix_custody_event_organization", ["organization_id", "id"], unique=False)
        batch_op.create_index("ix_custody_event_sample_occurred", ["sample_id", "occurred_at", "id"], unique=False)

    op.create_table(
        "sample_location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "at the lab",
                "stored",
                "sent for testing",
                "shipped",
                "disposed",
                name="custody_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("box_id", sa.Integer(), nullable=True),
        sa.Column("position_row", sa.Integer(), nullable=True),
        sa.Column("position_column", sa.Integer(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(box_id IS NULL) = (state != 'stored')", name=op.f("ck_sample_location_stored_in_a_box")),
        sa.ForeignKeyConstraint(["box_id"], ["storage_box.id"], name=op.f("fk_sample_location_box_id_storage_box")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organization.id"], name=op.f("fk_sample_location_organization_id_organization")
        ),
        sa.ForeignKeyConstraint(["sample_id"], ["sample.id"], name=op.f("fk_sample_location_sample_id_sample")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_location")),
        sa.UniqueConstraint("box_id", "position_row", "position_column", name="uq_sample_location_position"),
        sa.UniqueConstraint("sample_id", name=op.f("uq_sample_location_sample_id")),
    )
    with op.batch_alter_table("sample_location", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_location_organization_id"), ["organization_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sample_location", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_location_organization_id"))

    op.drop_table("sample_location")
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.drop_index("ix_custody_event_sample_occurred")
        batch_op.drop_index("ix_custody_event_organization")

    op.drop_table("custody_event")
    with op.batch_alter_table("aliquot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aliquot_parent_id"))

    op.drop_table("aliquot")
    with op.batch_alter_table("storage_box", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_storage_box_rack_id"))

    op.drop_table("storage_box")
    op.drop_table("storage_rack")
    op.drop_table("storage_unit")
