"""Equipment: registry, calibration points and records, reference standards, maintenance, uses, impact.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 00:03:07.662645
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reference_standard",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("certificate_number", sa.String(length=120), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_standard")),
        sa.UniqueConstraint("identifier", name=op.f("uq_reference_standard_identifier")),
    )
    op.create_table(
        "equipment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_tag", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "equipment_type",
            sa.Enum(
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
                name="equipment_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("location", sa.String(length=120), nullable=False),
        sa.Column("manufacturer", sa.String(length=120), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("serial_number", sa.String(length=120), nullable=False),
        sa.Column("calibration_interval_days", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_calibrated_on", sa.Date(), nullable=True),
        sa.Column("calibration_due_on", sa.Date(), nullable=True),
        sa.Column("out_of_tolerance", sa.Boolean(), nullable=False),
        sa.Column("under_maintenance", sa.Boolean(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retirement_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["user_account.id"], name=op.f("fk_equipment_owner_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment")),
        sa.UniqueConstraint("asset_tag", name=op.f("uq_equipment_asset_tag")),
    )
    with op.batch_alter_table("equipment", schema=None) as batch_op:
        batch_op.create_index("ix_equipment_due", ["retired_at", "calibration_due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_equipment_equipment_type"), ["equipment_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_equipment_location"), ["location"], unique=False)
        batch_op.create_index(batch_op.f("ix_equipment_out_of_tolerance"), ["out_of_tolerance"], unique=False)

    op.create_table(
        "calibration_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("nominal_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("nominal_unit", sa.String(length=32), nullable=False),
        sa.Column("tolerance_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["equipment_id"], ["equipment.id"], name=op.f("fk_calibration_point_equipment_id_equipment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_point")),
    )
    with op.batch_alter_table("calibration_point", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calibration_point_equipment_id"), ["equipment_id"], unique=False)

    op.create_table(
        "calibration_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("vendor_name", sa.String(length=200), nullable=True),
        sa.Column("vendor_certificate_number", sa.String(length=120), nullable=True),
        sa.Column("reference_standard_id", sa.Integer(), nullable=True),
        sa.Column("as_found_passed", sa.Boolean(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("certificate_filename", sa.String(length=200), nullable=True),
        sa.Column("certificate_media_type", sa.String(length=64), nullable=True),
        sa.Column("certificate_sha256", sa.String(length=64), nullable=True),
        sa.Column("certificate", sa.LargeBinary(), nullable=True),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("correction_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["corrects_id"],
            ["calibration_record.id"],
            name=op.f("fk_calibration_record_corrects_id_calibration_record"),
        ),
        sa.ForeignKeyConstraint(
            ["equipment_id"], ["equipment.id"], name=op.f("fk_calibration_record_equipment_id_equipment")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["user_account.id"], name=op.f("fk_calibration_record_recorded_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["reference_standard_id"],
            ["reference_standard.id"],
            name=op.f("fk_calibration_record_reference_standard_id_reference_standard"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_record")),
    )
    with op.batch_alter_table("calibration_record", schema=None) as batch_op:
        batch_op.create_index("ix_calibration_record_equipment", ["equipment_id", "performed_on"], unique=False)

    op.create_table(
        "equipment_use",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["equipment_id"], ["equipment.id"], name=op.f("fk_equipment_use_equipment_id_equipment")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_equipment_use_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment_use")),
    )
    with op.batch_alter_table("equipment_use", schema=None) as batch_op:
        batch_op.create_index("ix_equipment_use_equipment", ["equipment_id", "used_at"], unique=False)

    op.create_table(
        "maintenance_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "planned", "unplanned", name="maintenance_kind", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["user_account.id"], name=op.f("fk_maintenance_record_closed_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["equipment_id"], ["equipment.id"], name=op.f("fk_maintenance_record_equipment_id_equipment")
        ),
        sa.ForeignKeyConstraint(
            ["started_by_id"], ["user_account.id"], name=op.f("fk_maintenance_record_started_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_record")),
    )
    with op.batch_alter_table("maintenance_record", schema=None) as batch_op:
        batch_op.create_index("ix_maintenance_record_open", ["equipment_id", "closed_at"], unique=False)

    op.create_table(
        "calibration_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("nominal_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("nominal_unit", sa.String(length=32), nullable=False),
        sa.Column("tolerance_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("as_found_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("as_found_unit", sa.String(length=32), nullable=False),
        sa.Column("as_left_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("as_left_unit", sa.String(length=32), nullable=True),
        sa.Column("as_found_passed", sa.Boolean(), nullable=False),
        sa.Column("as_left_passed", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["point_id"], ["calibration_point.id"], name=op.f("fk_calibration_reading_point_id_calibration_point")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["calibration_record.id"], name=op.f("fk_calibration_reading_record_id_calibration_record")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_reading")),
    )
    with op.batch_alter_table("calibration_reading", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calibration_reading_record_id"), ["record_id"], unique=False)

    op.create_table(
        "impact_assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("calibration_record_id", sa.Integer(), nullable=False),
        sa.Column("uses_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conclusion", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["calibration_record_id"],
            ["calibration_record.id"],
            name=op.f("fk_impact_assessment_calibration_record_id_calibration_record"),
        ),
        sa.ForeignKeyConstraint(
            ["equipment_id"], ["equipment.id"], name=op.f("fk_impact_assessment_equipment_id_equipment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impact_assessment")),
    )
    with op.batch_alter_table("impact_assessment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_impact_assessment_equipment_id"), ["equipment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("impact_assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_impact_assessment_equipment_id"))

    op.drop_table("impact_assessment")
    with op.batch_alter_table("calibration_reading", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calibration_reading_record_id"))

    op.drop_table("calibration_reading")
    with op.batch_alter_table("maintenance_record", schema=None) as batch_op:
        batch_op.drop_index("ix_maintenance_record_open")

    op.drop_table("maintenance_record")
    with op.batch_alter_table("equipment_use", schema=None) as batch_op:
        batch_op.drop_index("ix_equipment_use_equipment")

    op.drop_table("equipment_use")
    with op.batch_alter_table("calibration_record", schema=None) as batch_op:
        batch_op.drop_index("ix_calibration_record_equipment")

    op.drop_table("calibration_record")
    with op.batch_alter_table("calibration_point", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calibration_point_equipment_id"))

    op.drop_table("calibration_point")
    with op.batch_alter_table("equipment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_equipment_out_of_tolerance"))
        batch_op.drop_index(batch_op.f("ix_equipment_location"))
        batch_op.drop_index(batch_op.f("ix_equipment_equipment_type"))
        batch_op.drop_index("ix_equipment_due")

    op.drop_table("equipment")
    op.drop_table("reference_standard")
