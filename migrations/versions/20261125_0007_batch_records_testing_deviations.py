"""Master batch records, executed batches, test definitions and results, deviations; the "quarantined" signature.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 00:59:11.331007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.append_only import make_append_only

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


_MEANINGS = ("authored", "performed", "verified", "reviewed", "approved", "released", "rejected")


def _allow_signature_meanings(meanings: tuple[str, ...]) -> None:
    """Change the meanings a signature may have (a check constraint)."""
    meaning = sa.Enum(*meanings, name="signature_meaning", native_enum=False, create_constraint=True, length=32)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_electronic_signature_signature_meaning"), "electronic_signature", type_="check")
        op.create_check_constraint("signature_meaning", "electronic_signature", sa.column("meaning").in_(meanings))
        return
    # SQLite cannot alter a constraint: the table is rebuilt, which drops its append-only triggers.
    with op.batch_alter_table(
        "electronic_signature",
        recreate="always",
        reflect_args=(sa.Column("meaning", meaning, nullable=False),),
        naming_convention={"ck": "ck_%(table_name)s_%(constraint_name)s"},
    ) as batch_op:
        batch_op.drop_constraint(op.f("ck_electronic_signature_signature_meaning"), type_="check")
    make_append_only("electronic_signature")


def upgrade() -> None:
    _allow_signature_meanings((*_MEANINGS, "quarantined"))
    # What a batch step used is looked up by the record it served.
    op.create_index("ix_equipment_use_record", "equipment_use", ["record_type", "record_id"])
    op.create_index("ix_lot_consumption_record", "lot_consumption", ["record_type", "record_id"])
    op.create_table(
        "master_batch_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_master_batch_record")),
        sa.UniqueConstraint("code", name=op.f("uq_master_batch_record_code")),
    )
    op.create_table(
        "test_definition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=200), nullable=False),
        sa.Column(
            "result_kind",
            sa.Enum(
                "quantitative", "qualitative", name="result_kind", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("specification", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_definition")),
        sa.UniqueConstraint("code", name=op.f("uq_test_definition_code")),
    )
    op.create_table(
        "mbr_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("master_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("change_summary", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "in review",
                "approved",
                "effective",
                "retired",
                name="mbr_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["master_id"], ["master_batch_record.id"], name=op.f("fk_mbr_version_master_id_master_batch_record")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mbr_version")),
        sa.UniqueConstraint("master_id", "number", name="uq_mbr_version_number"),
    )
    with op.batch_alter_table("mbr_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mbr_version_master_id"), ["master_id"], unique=False)
        batch_op.create_index(
            "uq_mbr_version_effective",
            ["master_id"],
            unique=True,
            sqlite_where=sa.text("status = 'effective'"),
            postgresql_where=sa.text("status = 'effective'"),
        )

    op.create_table(
        "mbr_release_test",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"], ["test_definition.id"], name=op.f("fk_mbr_release_test_definition_id_test_definition")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["mbr_version.id"], name=op.f("fk_mbr_release_test_version_id_mbr_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mbr_release_test")),
        sa.UniqueConstraint("version_id", "definition_id", name="uq_mbr_release_test_definition"),
    )
    with op.batch_alter_table("mbr_release_test", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mbr_release_test_version_id"), ["version_id"], unique=False)

    op.create_table(
        "mbr_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("second_person_verification", sa.Boolean(), nullable=False),
        sa.Column("hold_point", sa.Boolean(), nullable=False),
        sa.Column("skippable", sa.Boolean(), nullable=False),
        sa.Column("required_equipment", sa.String(length=400), nullable=False),
        sa.Column("yield_minimum_percent", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("yield_maximum_percent", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("theoretical_yield_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("theoretical_yield_unit", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["version_id"], ["mbr_version.id"], name=op.f("fk_mbr_step_version_id_mbr_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mbr_step")),
        sa.UniqueConstraint("version_id", "position", name="uq_mbr_step_position"),
    )
    with op.batch_alter_table("mbr_step", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mbr_step_version_id"), ["version_id"], unique=False)

    op.create_table(
        "test_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("tested_type", sa.String(length=64), nullable=False),
        sa.Column("tested_id", sa.String(length=64), nullable=False),
        sa.Column("specification", sa.String(length=200), nullable=False),
        sa.Column("measured_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("measured_unit", sa.String(length=32), nullable=True),
        sa.Column("observation", sa.String(length=200), nullable=True),
        sa.Column("conforms", sa.Boolean(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("correction_reason", sa.Text(), nullable=True),
        sa.Column("replaced", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"], ["test_definition.id"], name=op.f("fk_test_result_definition_id_test_definition")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["user_account.id"], name=op.f("fk_test_result_recorded_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"], ["test_result.id"], name=op.f("fk_test_result_replaces_id_test_result")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_result")),
    )
    with op.batch_alter_table("test_result", schema=None) as batch_op:
        batch_op.create_index("ix_test_result_tested", ["tested_type", "tested_id", "definition_id"], unique=False)

    op.create_table(
        "mbr_material",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=False),
        sa.Column("quantity_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("quantity_unit", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["material_id"], ["material.id"], name=op.f("fk_mbr_material_material_id_material")),
        sa.ForeignKeyConstraint(["step_id"], ["mbr_step.id"], name=op.f("fk_mbr_material_step_id_mbr_step")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mbr_material")),
    )
    with op.batch_alter_table("mbr_material", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mbr_material_step_id"), ["step_id"], unique=False)

    op.create_table(
        "mbr_parameter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("limit", sa.String(length=120), nullable=True),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("target_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("target_unit", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["step_id"], ["mbr_step.id"], name=op.f("fk_mbr_parameter_step_id_mbr_step")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mbr_parameter")),
    )
    with op.batch_alter_table("mbr_parameter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mbr_parameter_step_id"), ["step_id"], unique=False)

    op.create_table(
        "batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_number", sa.String(length=32), nullable=False),
        sa.Column("mbr_version_id", sa.Integer(), nullable=False),
        sa.Column("mbr_label", sa.String(length=64), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("training_subject", sa.String(length=120), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("starting_material_identity", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "in progress",
                "awaiting review",
                "quarantined",
                "released",
                "rejected",
                name="batch_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disposition_reason", sa.Text(), nullable=True),
        sa.Column("disposition_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_batch_created_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["mbr_version_id"], ["mbr_version.id"], name=op.f("fk_batch_mbr_version_id_mbr_version")
        ),
        sa.ForeignKeyConstraint(["subject_id"], ["subject.id"], name=op.f("fk_batch_subject_id_subject")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch")),
        sa.UniqueConstraint("batch_number", name=op.f("uq_batch_batch_number")),
        sa.UniqueConstraint("starting_material_identity", name=op.f("uq_batch_starting_material_identity")),
    )
    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_mbr_version_id"), ["mbr_version_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_batch_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "batch_release_test",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("specification", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"], name=op.f("fk_batch_release_test_batch_id_batch")),
        sa.ForeignKeyConstraint(
            ["definition_id"], ["test_definition.id"], name=op.f("fk_batch_release_test_definition_id_test_definition")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_release_test")),
        sa.UniqueConstraint("batch_id", "definition_id", name="uq_batch_release_test_definition"),
    )
    with op.batch_alter_table("batch_release_test", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_release_test_batch_id"), ["batch_id"], unique=False)

    op.create_table(
        "batch_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "in progress",
                "completed",
                "skipped",
                name="step_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("performed_by_id", sa.Integer(), nullable=True),
        sa.Column("actual_yield_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("actual_yield_unit", sa.String(length=32), nullable=True),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("second_person_verification", sa.Boolean(), nullable=False),
        sa.Column("hold_point", sa.Boolean(), nullable=False),
        sa.Column("skippable", sa.Boolean(), nullable=False),
        sa.Column("required_equipment", sa.String(length=400), nullable=False),
        sa.Column("yield_minimum_percent", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("yield_maximum_percent", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("theoretical_yield_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("theoretical_yield_unit", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"], name=op.f("fk_batch_step_batch_id_batch")),
        sa.ForeignKeyConstraint(
            ["performed_by_id"], ["user_account.id"], name=op.f("fk_batch_step_performed_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_step")),
        sa.UniqueConstraint("batch_id", "position", name="uq_batch_step_position"),
    )
    with op.batch_alter_table("batch_step", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_step_batch_id"), ["batch_id"], unique=False)

    op.create_table(
        "batch_material",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=False),
        sa.Column("quantity_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("quantity_unit", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["material_id"], ["material.id"], name=op.f("fk_batch_material_material_id_material")),
        sa.ForeignKeyConstraint(["step_id"], ["batch_step.id"], name=op.f("fk_batch_material_step_id_batch_step")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_material")),
    )
    with op.batch_alter_table("batch_material", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_material_step_id"), ["step_id"], unique=False)

    op.create_table(
        "batch_parameter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("limit", sa.String(length=120), nullable=True),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("target_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=True),
        sa.Column("target_unit", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["step_id"], ["batch_step.id"], name=op.f("fk_batch_parameter_step_id_batch_step")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_parameter")),
    )
    with op.batch_alter_table("batch_parameter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_parameter_step_id"), ["step_id"], unique=False)

    op.create_table(
        "batch_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parameter_id", sa.Integer(), nullable=False),
        sa.Column("value_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("value_unit", sa.String(length=32), nullable=False),
        sa.Column("within_limits", sa.Boolean(), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_reason", sa.Text(), nullable=True),
        sa.Column("correction_reason", sa.Text(), nullable=True),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entered_by_id"], ["user_account.id"], name=op.f("fk_batch_entry_entered_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["parameter_id"], ["batch_parameter.id"], name=op.f("fk_batch_entry_parameter_id_batch_parameter")
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"], ["batch_entry.id"], name=op.f("fk_batch_entry_replaced_by_id_batch_entry")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"], ["batch_entry.id"], name=op.f("fk_batch_entry_replaces_id_batch_entry")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_entry")),
    )
    with op.batch_alter_table("batch_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_entry_parameter_id"), ["parameter_id"], unique=False)

    op.create_table(
        "deviation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "minor",
                "major",
                "critical",
                name="deviation_category",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "status",
            sa.Enum("open", "closed", name="deviation_status", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("test_result_id", sa.Integer(), nullable=True),
        sa.Column("raised_by_id", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("investigation", sa.Text(), nullable=True),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("other_batches_assessed", sa.Text(), nullable=True),
        sa.Column("conclusion", sa.Text(), nullable=True),
        sa.Column("capa", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"], name=op.f("fk_deviation_batch_id_batch")),
        sa.ForeignKeyConstraint(["entry_id"], ["batch_entry.id"], name=op.f("fk_deviation_entry_id_batch_entry")),
        sa.ForeignKeyConstraint(
            ["raised_by_id"], ["user_account.id"], name=op.f("fk_deviation_raised_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["step_id"], ["batch_step.id"], name=op.f("fk_deviation_step_id_batch_step")),
        sa.ForeignKeyConstraint(
            ["test_result_id"], ["test_result.id"], name=op.f("fk_deviation_test_result_id_test_result")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deviation")),
        sa.UniqueConstraint("number", name=op.f("uq_deviation_number")),
    )
    with op.batch_alter_table("deviation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deviation_batch_id"), ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deviation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deviation_batch_id"))

    op.drop_table("deviation")
    with op.batch_alter_table("batch_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_entry_parameter_id"))

    op.drop_table("batch_entry")
    with op.batch_alter_table("batch_parameter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_parameter_step_id"))

    op.drop_table("batch_parameter")
    with op.batch_alter_table("batch_material", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_material_step_id"))

    op.drop_table("batch_material")
    with op.batch_alter_table("batch_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_step_batch_id"))

    op.drop_table("batch_step")
    with op.batch_alter_table("batch_release_test", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_release_test_batch_id"))

    op.drop_table("batch_release_test")
    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batch_subject_id"))
        batch_op.drop_index(batch_op.f("ix_batch_mbr_version_id"))

    op.drop_table("batch")
    with op.batch_alter_table("mbr_parameter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mbr_parameter_step_id"))

    op.drop_table("mbr_parameter")
    with op.batch_alter_table("mbr_material", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mbr_material_step_id"))

    op.drop_table("mbr_material")
    with op.batch_alter_table("test_result", schema=None) as batch_op:
        batch_op.drop_index("ix_test_result_tested")

    op.drop_table("test_result")
    with op.batch_alter_table("mbr_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mbr_step_version_id"))

    op.drop_table("mbr_step")
    with op.batch_alter_table("mbr_release_test", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mbr_release_test_version_id"))

    op.drop_table("mbr_release_test")
    with op.batch_alter_table("mbr_version", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_mbr_version_effective",
            sqlite_where=sa.text("status = 'effective'"),
            postgresql_where=sa.text("status = 'effective'"),
        )
        batch_op.drop_index(batch_op.f("ix_mbr_version_master_id"))

    op.drop_table("mbr_version")
    op.drop_table("test_definition")
    op.drop_table("master_batch_record")

    op.drop_index("ix_lot_consumption_record", "lot_consumption")
    op.drop_index("ix_equipment_use_record", "equipment_use")
    _allow_signature_meanings(_MEANINGS)
